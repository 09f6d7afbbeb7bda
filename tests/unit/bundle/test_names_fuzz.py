"""Any set of names a POSIX folder allows, nested, survives ingest: the bundle
verifies, audit against the source matches everything, and the payload
restored by custody/names.json is the source, byte for byte (issue 22)."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_fuzz import MUTATIONS, Pristine, damaged_scan, mutate

from custody.base.fsutil import unsafe_path_reason
from custody.base.keys import PublicKeyInfo, fingerprint_of
from custody.bundle.format import layout
from custody.bundle.format.names import (
    MAX_COMPONENT_BYTES,
    NAMES,
    component_is_portable,
    stored_names,
)
from custody.bundle.read.reader import scan_bundle
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.evaluate import evaluate, verify_bundle
from custody.bundle.verify.evidence import Evidence
from custody.ops.audit import audit_folder
from custody.ops.writer import ingest
from custody.policy import TrustPolicy
from names_helpers import HOSTILE_NAMES, make_tree, read_tree, restore

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
POLICY = TrustPolicy(
    keys=(PublicKeyInfo("PC Test", fingerprint_of(KEY.public_key()), KEY.public_key()),)
)

# A name: any bytes but '/' and NUL, not '.' or '..', at most 255 of them; the
# hostile classes are drawn often, not left to chance.
hostile_byte = st.sampled_from(b"\\\t\r\n\x01\x7f%= ~:\xff\xfe\x80\xc3\xa9.")
component = (
    st.one_of(
        st.sampled_from(HOSTILE_NAMES),
        st.lists(st.one_of(hostile_byte, st.integers(1, 255)), min_size=1, max_size=40).map(bytes),
        st.integers(1, 255).map(lambda n: b"\\" * n),
        st.text(min_size=1, max_size=20).map(lambda t: t.encode("utf-8")),
    )
    .map(lambda b: b.replace(b"/", b"_").replace(b"\x00", b"_")[:255])
    .filter(lambda b: b not in (b".", b".."))
)
paths = st.lists(st.lists(component, min_size=1, max_size=3), min_size=1, max_size=8)


def usable(tree: list[list[bytes]]) -> dict[bytes, bytes]:
    """Paths as a folder can hold them: no file where another path needs a folder."""
    files: dict[bytes, bytes] = {}
    folders: set[bytes] = set()
    for parts in tree:
        path = b"/".join(parts)
        parents = {b"/".join(parts[:i]) for i in range(1, len(parts))}
        if path in folders or path in files or parents & files.keys():
            continue
        folders |= parents
        files[path] = b"content of " + path
    return files


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(paths)
@example([[b"DCIM\\IMG_0001.jpg"], [b"IMG_0001\xff.jpg"], [b"IMG_0001=FF.jpg"], [b"a\nb", b"c"]])
@example([[b"\\" * 255], [b"\\" * 254], [b"=5C" * 85]])
def test_any_names_survive_ingest_verify_audit_and_restore(tree: list[list[bytes]]) -> None:
    files = usable(tree)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_tree(root / "src", files)
        result = ingest(
            source=root / "src",
            case="C-1",
            signing_key=KEY,
            officer="PC Test",
            out=root / "b",
            extract_metadata=False,
        )
        bundle = Path(result.bundle)
        report = verify_bundle(bundle=bundle, policy=POLICY)
        assert report.verified, report.problems
        manifest, errors = layout.parse_manifest((bundle / layout.MANIFEST).read_bytes())
        assert not errors
        audit = audit_folder(folder=root / "src", report=report, manifest=manifest)
        assert audit.identical, audit
        assert {os.fsencode(p) for p in audit.matched} == set(files)
        restore(bundle, root / "restored")
        assert read_tree(root / "restored") == files
        shutil.rmtree(root / "b")


@given(st.lists(component, min_size=1, max_size=20, unique=True))
@example([b"a\\b", b"a=5Cb", b"a=5Cb~" + b"0" * 16])
def test_stored_names_are_portable_distinct_and_short(raws: list[bytes]) -> None:
    stored = stored_names(raws)
    assert set(stored) == set(raws)
    assert len(set(stored.values())) == len(raws)
    for raw, name in stored.items():
        assert len(name.encode("utf-8")) <= MAX_COMPONENT_BYTES
        assert unsafe_path_reason(f"data/{name}") is None
        assert component_is_portable(name.encode("utf-8"))
        if component_is_portable(raw):
            assert name.encode("utf-8") == raw


@pytest.fixture(scope="module")
def hostile_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BundleScan]:
    root = tmp_path_factory.mktemp("names-fuzz")
    make_tree(root / "src", {n: b"content of " + n for n in HOSTILE_NAMES})
    result = ingest(
        source=root / "src", case="C-1", signing_key=KEY, officer="PC Test", out=root / "b"
    )
    scan = scan_bundle(Path(result.bundle))
    assert evaluate(Evidence(scan), POLICY, now=datetime.now(UTC)).verified
    return Path(result.bundle), scan


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    target=st.sampled_from([NAMES, layout.MANIFEST]),
    how=st.sampled_from(MUTATIONS),
    position=st.integers(min_value=0, max_value=10_000),
    value=st.binary(min_size=1, max_size=64),
    recompute=st.booleans(),
)
def test_any_damage_to_the_names_or_manifest_is_found(
    hostile_bundle: tuple[Path, BundleScan],
    target: str,
    how: str,
    position: int,
    value: bytes,
    recompute: bool,
) -> None:
    _, scan = hostile_bundle
    original = scan.read_tag(target)
    assert original is not None
    damaged = mutate(original, how, position, value)
    pristine = Pristine(scan, POLICY, POLICY)
    report = evaluate(
        Evidence(damaged_scan(pristine, target, damaged, recompute)), POLICY, now=datetime.now(UTC)
    )
    assert report.verified is (damaged == original), report.problems
