"""Property-based fuzzing (hypothesis): the bundle reader, the verifier and every
metadata extractor take arbitrary damage without raising anything but custody's own
errors. The coverage-guided counterpart is fuzz/ (atheris)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES, TESTS, Env
from custody.base.errors import CustodyError
from custody.base.keys import read_public_key_file
from custody.bundle.format.layout import TAG_MANIFEST, format_manifest, parse_manifest
from custody.bundle.read.reader import scan_bundle
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.evaluate import evaluate
from custody.bundle.verify.evidence import Evidence
from custody.metadata import extract_record
from custody.policy import TrustPolicy

TAG_FILES = [
    "bagit.txt",
    "bag-info.txt",
    "manifest-sha256.txt",
    "tagmanifest-sha256.txt",
    "custody/statement.json",
    "custody/statement.sig",
    "custody/signer.pub",
    "custody/metadata.json",
    "custody/ledger-proof.json",
    "custody/chain/0001-transfer.json",
    "custody/chain/0001-transfer.sig",
    "custody/chain/0001-receipt.json",
    "custody/chain/0001-receipt.sig",
]

# How many examples, and whether they are drawn at random, is the profile's
# choice (tests/conftest.py): the same every run by default, fresh with
# --hypothesis-profile=explore --hypothesis-seed=N (fuzz/explore).
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@dataclass(frozen=True)
class Pristine:
    """A bundle with a hand-over and its receipt, scanned once, and two ways
    to trust its signer: the key itself, or only its fingerprint."""

    scan: BundleScan
    by_key: TrustPolicy
    by_fingerprint: TrustPolicy


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    tmp = tmp_path_factory.mktemp("fuzz")
    officer = Env(home=tmp / "officer", tmp=tmp)
    receiver = Env(home=tmp / "receiver", tmp=tmp)
    assert officer.run("keygen", "--name", "Fuzz Officer").exit_code == 0
    assert receiver.run("keygen", "--name", "Fuzz Receiver").exit_code == 0
    officer_pub = next((tmp / "officer" / "keys").glob("*.pub"))
    receiver_pub = next((tmp / "receiver" / "keys").glob("*.pub"))
    bundle = tmp / "bundle"
    assert officer.run("ingest", EXAMPLES, "--case", "F", "--out", bundle).exit_code == 0
    moved = officer.run("transfer", bundle, "--to", receiver_pub, "--reason", "Fuzzing")
    assert moved.exit_code == 0, moved.output
    assert receiver.run("receive", bundle, "--trust", officer_pub).exit_code == 0
    key = read_public_key_file(officer_pub)
    scan = scan_bundle(bundle)
    assert set(TAG_FILES) <= set(scan.files)
    return Pristine(
        scan, TrustPolicy(keys=(key,)), TrustPolicy(fingerprints=frozenset({key.fingerprint}))
    )


MUTATIONS = [
    "flip",
    "truncate",
    "insert",
    "replace",
    "drop_final_newline",
    "crlf",
    "bom",
    "trailing_space",
    "duplicate_line",
    "swap_lines",
    "flip_pem",
]


def mutate(data: bytes, how: str, position: int, value: bytes) -> bytes:
    """`data` damaged in one way. Positions wrap around the data's length."""
    pos = position % (len(data) + 1)
    lines = data.split(b"\n")
    if how == "flip" and data:
        pos = pos % len(data)
        return data[:pos] + bytes([data[pos] ^ 0x5A]) + data[pos + 1 :]
    if how == "flip_pem":
        # A flip inside the base64 of a PEM block: the algorithm identifier,
        # the key bytes, or the armour.
        start = data.find(b"-----BEGIN PUBLIC KEY-----\n")
        if start < 0:
            return mutate(data, "flip", position, value)
        return mutate(data, "flip", start + 27 + position % 60, value)
    if how == "truncate":
        return data[:pos]
    if how == "insert":
        return data[:pos] + value + data[pos:]
    if how == "drop_final_newline":
        return data[:-1] if data.endswith(b"\n") else data
    if how == "crlf":
        return data.replace(b"\n", b"\r\n")
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "trailing_space":
        i = position % max(1, len(lines) - 1)
        return b"\n".join([*lines[:i], lines[i] + b" ", *lines[i + 1 :]])
    if how == "duplicate_line":
        i = position % max(1, len(lines) - 1)
        return b"\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
    if how == "swap_lines" and len(lines) > 2:
        i = position % (len(lines) - 2)
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
        return b"\n".join(lines)
    if how == "replace":
        return value
    return data


def damaged_scan(pristine: Pristine, target: str, damaged: bytes, recompute: bool) -> BundleScan:
    """The pristine scan with one tag file's bytes replaced; with `recompute`, the
    tag manifest rewritten to match, as a careful forger would."""
    scan = pristine.scan
    copy = BundleScan(scan.location, dict(scan.files), dict(scan.tag_bytes), [], set())
    copy.tag_bytes[target] = damaged
    copy.files[target] = type(scan.files[target])(len(damaged), _sha(damaged))
    if recompute:
        listed, errors = parse_manifest(scan.tag_bytes[TAG_MANIFEST])
        assert not errors
        listed[target] = _sha(damaged)
        manifest = format_manifest(listed.items())
        copy.tag_bytes[TAG_MANIFEST] = manifest
        copy.files[TAG_MANIFEST] = type(scan.files[TAG_MANIFEST])(len(manifest), _sha(manifest))
    return copy


# The oracle, from docs/format.md: every byte of every tag file is either signed
# (directly, or through a digest in the signed statement), or must be exactly
# what custody writes. So ANY change to ANY tag file, even with the tag manifest
# recomputed, is a problem, whichever way the verifier trusts the signer.
@FUZZ
@given(
    target=st.sampled_from(TAG_FILES),
    how=st.sampled_from(MUTATIONS),
    position=st.integers(min_value=0, max_value=10_000),
    value=st.binary(min_size=1, max_size=64),
    recompute=st.booleans(),
    trust_by=st.sampled_from(["key", "fingerprint"]),
)
# Found by exploration: a tag manifest without its final newline was accepted.
@example(
    target="tagmanifest-sha256.txt",
    how="drop_final_newline",
    position=0,
    value=b"x",
    recompute=False,
    trust_by="key",
)
# Found by exploration: one flipped byte in the key's algorithm identifier made
# cryptography raise UnsupportedAlgorithm, and verify crashed with a traceback.
@example(
    target="custody/signer.pub",
    how="flip_pem",
    position=9,
    value=b"x",
    recompute=False,
    trust_by="key",
)
# Found by review: a trusted signer's bundled key could be changed or made
# unreadable, with the tag manifest recomputed, and the bundle still verified.
@example(
    target="custody/signer.pub",
    how="flip_pem",
    position=20,
    value=b"x",
    recompute=True,
    trust_by="key",
)
@example(
    target="custody/signer.pub",
    how="flip_pem",
    position=0,
    value=b"x",
    recompute=True,
    trust_by="key",
)
def test_verifier_finds_any_tag_file_damage(
    pristine: Pristine,
    target: str,
    how: str,
    position: int,
    value: bytes,
    recompute: bool,
    trust_by: str,
) -> None:
    policy = pristine.by_key if trust_by == "key" else pristine.by_fingerprint
    original = pristine.scan.read_tag(target)
    assert original is not None
    damaged = mutate(original, how, position, value)
    if target == TAG_MANIFEST and recompute:
        recompute = False  # the forger's rewrite would undo the damage itself
    report = evaluate(
        Evidence(damaged_scan(pristine, target, damaged, recompute)), policy, now=datetime.now(UTC)
    )
    if damaged == original:
        assert report.verified, report.problems
    else:
        assert not report.verified
        assert report.problems


def test_pristine_bundle_verifies_both_ways(pristine: Pristine) -> None:
    assert evaluate(Evidence(pristine.scan), pristine.by_key, now=datetime.now(UTC)).verified
    assert evaluate(
        Evidence(pristine.scan), pristine.by_fingerprint, now=datetime.now(UTC)
    ).verified


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


MAGICS = [
    b"\xff\xd8\xff\xe1",
    b"\x89PNG\r\n\x1a\n",
    b"II*\x00",
    b"MM\x00*",
    b"\x00\x00\x00\x18ftypheic",
    b"\x00\x00\x00\x18ftypisom",
    b"\x00\x00\x00\x14ftypqt  ",
    b"\x1a\x45\xdf\xa3",
    b"OggS\x00\x02",
    b"RIFF\x00\x00\x00\x00WAVE",
    b"RIFF\x00\x00\x00\x00AVI ",
    b"RIFF\x00\x00\x00\x00WEBP",
    b"ID3\x04\x00",
    b"From: a@b\r\n",
    b"From x Mon\nFrom: a\n",
    b'{"messages": [',
    b"[01/02/2022, 10:00] ",
]

SAMPLES = [p.read_bytes() for p in sorted(EXAMPLES.rglob("*")) if p.is_file()]


@FUZZ
@given(
    magic=st.sampled_from(MAGICS),
    body=st.binary(max_size=4096),
    sample=st.sampled_from(SAMPLES),
    cut=st.integers(min_value=0, max_value=40_000),
    flips=st.lists(st.integers(min_value=0, max_value=40_000), max_size=8),
    name=st.sampled_from(
        [
            "x.jpg",
            "x.mp4",
            "x.mov",
            "x.eml",
            "_chat.txt",
            "result.json",
            "x.mkv",
            "x.ogg",
            "x.heic",
            "x.bin",
        ]
    ),
    use_sample=st.booleans(),
)
def test_extractors_never_raise(
    tmp_path_factory: pytest.TempPathFactory,
    magic: bytes,
    body: bytes,
    sample: bytes,
    cut: int,
    flips: list[int],
    name: str,
    use_sample: bool,
) -> None:
    if use_sample:
        data = bytearray(sample[: max(1, cut)])
        for f in flips:
            if data:
                data[f % len(data)] ^= 0xFF
    else:
        data = bytearray(magic + body)
    path = tmp_path_factory.mktemp("x") / name
    path.write_bytes(bytes(data))
    record = extract_record(copy_path=path, rel_path=name, sha256="0" * 64, size=len(data))
    assert record["size"] == len(data)
    assert isinstance(record["errors"], list)


@FUZZ
@given(data=st.binary(max_size=2048), kind=st.sampled_from(["zip", "tar", "raw"]))
def test_reader_raises_only_custody_errors(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, kind: str
) -> None:
    path = tmp_path_factory.mktemp("a") / f"thing.{kind}"
    if kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("bagit.txt", data[:64])
            zf.writestr("data/x", data)
        raw = bytearray(buf.getvalue())
        for i in range(0, len(raw), 97):
            raw[i] ^= data[i % len(data)] if data else 0
        path.write_bytes(bytes(raw))
    elif kind == "tar":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            info = tarfile.TarInfo("bagit.txt")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        raw = bytearray(buf.getvalue())
        for i in range(0, min(len(raw), 512), 53):
            raw[i] ^= data[i % len(data)] if data else 0
        path.write_bytes(bytes(raw))
    else:
        path.write_bytes(data)
    try:
        scan = scan_bundle(path)
    except CustodyError:
        return
    evaluate(Evidence(scan), TrustPolicy(), now=datetime.now(UTC))


REGRESSIONS = TESTS / "regressions"


@pytest.mark.parametrize("name", sorted(p.name for p in REGRESSIONS.iterdir()))
def test_inputs_found_by_fuzzing(env: Env, tmp_path: Path, name: str) -> None:
    """Every input a fuzzer once crashed custody with: now one line and exit 2 or 1."""
    target = tmp_path / name
    target.write_bytes((REGRESSIONS / name).read_bytes())
    result = env.run("verify", target)
    assert result.exit_code in (1, 2)
    assert "Traceback" not in result.output
