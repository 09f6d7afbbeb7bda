"""Tag files are the bytes custody wrote (docs/format.md): every other spelling is named,
and every damaged or swapped signer key is a problem line, never a traceback or a pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import Env, refresh_tag_manifest


def problems_of(env: Env, bundle: Path, *extra: str) -> tuple[int, list[tuple[str, str, str]]]:
    result = env.run("verify", bundle, "--json", *extra)
    doc = json.loads(result.stdout)
    return result.exit_code, [(p["kind"], p["path"], p["detail"]) for p in doc["problems"]]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


TAG_MANIFEST_EDITS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "no final newline": (lambda b: b[:-1], "last line has no line ending"),
    "crlf": (
        lambda b: b.replace(b"\n", b"\r\n"),
        "line 1 ends in CR LF (custody writes LF line endings)",
    ),
    "bom": (lambda b: b"\xef\xbb\xbf" + b, "starts with a byte-order mark (custody writes none)"),
    "trailing space": (
        lambda b: b.replace(b"\n", b" \n", 1),
        "line 1 ends in white space",
    ),
    "reordered": (
        lambda b: b"\n".join([_lines(b)[1], _lines(b)[0], *_lines(b)[2:]]),
        "lines are not in the order custody writes them",
    ),
    "upper-case hex": (
        lambda b: b[:64].upper() + b[64:],
        "line 1 differs from what custody writes",
    ),
    "one space": (
        lambda b: b.replace(b"  ", b" ", 1),
        "line 1 differs from what custody writes",
    ),
}


@pytest.mark.parametrize("what", sorted(TAG_MANIFEST_EDITS))
def test_tag_manifest_spelled_otherwise_is_named(env: Env, bundle: Path, what: str) -> None:
    edit, detail = TAG_MANIFEST_EDITS[what]
    path = bundle / "tagmanifest-sha256.txt"
    path.write_bytes(edit(path.read_bytes()))
    code, problems = problems_of(env, bundle)
    assert code == 1
    assert problems == [("bad_tag_format", "tagmanifest-sha256.txt", detail)]


def test_tag_manifest_duplicated_line_is_named(env: Env, bundle: Path) -> None:
    path = bundle / "tagmanifest-sha256.txt"
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([lines[0], *lines]))
    code, problems = problems_of(env, bundle)
    assert code == 1
    assert problems == [("bad_manifest", "tagmanifest-sha256.txt", "line 2: listed more than once")]


def test_bagit_txt_without_final_newline_is_named(env: Env, bundle: Path) -> None:
    path = bundle / "bagit.txt"
    path.write_bytes(path.read_bytes()[:-1])
    refresh_tag_manifest(bundle)
    code, problems = problems_of(env, bundle)
    assert code == 1
    assert problems == [("bad_tag_format", "bagit.txt", "last line has no line ending")]


def _other_key_file(env: Env, tmp_path: Path) -> bytes:
    other = Env(home=tmp_path / "other", tmp=tmp_path)
    assert other.run("keygen", "--name", "PC Jane Smith, War Crimes Team").exit_code == 0
    return next((tmp_path / "other" / "keys").glob("*.pub")).read_bytes()


@pytest.mark.parametrize("trust", ["store", "fingerprint"])
def test_swapped_signer_key_is_named_even_when_trusted(
    env: Env, bundle: Path, officer: dict, tmp_path: Path, trust: str
) -> None:
    """The statement names one key; custody/signer.pub holds another (same name,
    tag manifest recomputed): never verified, whichever way the signer is trusted."""
    (bundle / "custody/signer.pub").write_bytes(_other_key_file(env, tmp_path))
    refresh_tag_manifest(bundle)
    if trust == "store":
        code, problems = problems_of(env, bundle)
    else:
        court = Env(home=tmp_path / "court", tmp=tmp_path)
        code, problems = problems_of(court, bundle, "--trust", officer["fingerprint"])
    assert code == 1
    kinds = [(k, p) for k, p, _ in problems]
    assert ("signer_key_mismatch", "custody/signer.pub") in kinds
    detail = next(d for k, _, d in problems if k == "signer_key_mismatch")
    assert officer["fingerprint"] in detail


def test_unreadable_signer_key_is_named_even_when_trusted(env: Env, bundle: Path) -> None:
    path = bundle / "custody/signer.pub"
    path.write_bytes(path.read_bytes().replace(b"-----END PUBLIC KEY-----", b"-----END"))
    refresh_tag_manifest(bundle)
    code, problems = problems_of(env, bundle)
    assert code == 1
    assert problems == [("bad_signer_key", "custody/signer.pub", "damaged public key file")]


def test_unknown_key_algorithm_is_a_problem_not_a_traceback(env: Env, bundle: Path) -> None:
    """One flipped byte in the PEM's algorithm identifier (OID 1.3.101.112 is 'K2Vw' in
    base64): cryptography raises UnsupportedAlgorithm, custody names the file."""
    path = bundle / "custody/signer.pub"
    data = path.read_bytes()
    at = data.index(b"K2Vw") + 1
    path.write_bytes(data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1 :])
    refresh_tag_manifest(bundle)
    code, problems = problems_of(env, bundle)
    assert code == 1
    assert (
        "bad_signer_key",
        "custody/signer.pub",
        "not an Ed25519 public key (unknown key type)",
    ) in problems


def test_signer_key_file_header_edited_is_named(env: Env, bundle: Path) -> None:
    path = bundle / "custody/signer.pub"
    path.write_bytes(path.read_bytes().replace(b"Name: PC Jane Smith", b"Name: PC John Smith"))
    refresh_tag_manifest(bundle)
    code, problems = problems_of(env, bundle)
    assert code == 1
    assert problems == [
        (
            "bad_tag_format",
            "custody/signer.pub",
            "not the key file custody writes for this key: line 2 differs from what custody writes",
        )
    ]
