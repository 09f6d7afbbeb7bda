"""Property-based fuzzing (hypothesis): the bundle reader, the verifier and every
metadata extractor take arbitrary damage without raising anything but custody's own
errors. The coverage-guided counterpart is fuzz/ (atheris)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES, Env
from custody.bundle.reader import BundleScan, scan_bundle
from custody.bundle.verify import evaluate
from custody.errors import CustodyError
from custody.keys import read_public_key_file
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
]

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[BundleScan, TrustPolicy]:
    tmp = tmp_path_factory.mktemp("fuzz")
    env = Env(home=tmp / "home", tmp=tmp)
    env.run("keygen", "--name", "Fuzz Officer")
    bundle = tmp / "bundle"
    assert env.run("ingest", EXAMPLES, "--case", "F", "--out", bundle).exit_code == 0
    key = read_public_key_file(next((tmp / "home" / "keys").glob("*.pub")))
    return scan_bundle(bundle), TrustPolicy(keys=(key,))


def mutate(data: bytes, how: str, position: int, value: bytes) -> bytes:
    pos = position % (len(data) + 1)
    if how == "flip" and data:
        pos = pos % len(data)
        return data[:pos] + bytes([data[pos] ^ 0x5A]) + data[pos + 1 :]
    if how == "truncate":
        return data[:pos]
    if how == "insert":
        return data[:pos] + value + data[pos:]
    return value


@FUZZ
@given(
    target=st.sampled_from(TAG_FILES),
    how=st.sampled_from(["flip", "truncate", "insert", "replace"]),
    position=st.integers(min_value=0, max_value=10_000),
    value=st.binary(min_size=1, max_size=64),
)
def test_verifier_survives_any_tag_file_damage(
    pristine: tuple[BundleScan, TrustPolicy], target: str, how: str, position: int, value: bytes
) -> None:
    scan, trusted = pristine
    assert evaluate(scan, trusted).verified
    original = scan.read_tag(target)
    assert original is not None
    damaged = mutate(original, how, position, value)
    copy = BundleScan(scan.location, dict(scan.files), dict(scan.tag_bytes), [], set())
    if target in scan.tag_bytes:
        copy.tag_bytes[target] = damaged
    copy.files[target] = type(scan.files[target])(len(damaged), _sha(damaged))
    report = evaluate(copy, trusted)
    if damaged != original:
        assert not report.verified
        assert report.problems


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
    evaluate(scan, TrustPolicy())


REGRESSIONS = Path(__file__).parent / "regressions"


@pytest.mark.parametrize("name", sorted(p.name for p in REGRESSIONS.iterdir()))
def test_inputs_found_by_fuzzing(env: Env, tmp_path: Path, name: str) -> None:
    """Every input a fuzzer once crashed custody with: now one line and exit 2 or 1."""
    target = tmp_path / name
    target.write_bytes((REGRESSIONS / name).read_bytes())
    result = env.run("verify", target)
    assert result.exit_code in (1, 2)
    assert "Traceback" not in result.output
