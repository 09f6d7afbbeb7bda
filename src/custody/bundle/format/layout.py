"""The bundle's on-disk format: names, manifest lines and bag-info fields.

See docs/format.md. A bundle is a BagIt 1.0 bag (RFC 8493) with custody's own
tag files under custody/.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from custody.base.bytediff import BOM
from custody.base.fsutil import unsafe_path_reason

BAGIT_TXT = "bagit.txt"
BAG_INFO = "bag-info.txt"
MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"
PAYLOAD_DIR = "data"
CUSTODY_DIR = "custody"
STATEMENT = "custody/statement.json"
SIGNATURE = "custody/statement.sig"
SIGNER_KEY = "custody/signer.pub"
METADATA = "custody/metadata.json"
TIMESTAMPS_DIR = "custody/timestamps"
"""RFC 3161 replies over custody/statement.sig, one file per token: N.tsr."""
# Full C2PA manifest-store reports, one per file that carries a manifest
# (docs/metadata.md); their number is in bag-info under this label.
C2PA_DIR = "custody/c2pa/"
C2PA_REPORTS_FIELD = "Custody-C2PA-Reports"
TEAM_PROOF = "custody/team-proof.json"  # docs/team.md
SIMILAR = "custody/similar.json"
"""Perceptual analysis results (PDQ hashes), signed through the statement's similar_sha256."""

BAGIT_TXT_BYTES = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"

# Tag files a custody bundle must have, all listed in the tag manifest.
REQUIRED_TAG_FILES = (BAGIT_TXT, BAG_INFO, MANIFEST, STATEMENT, SIGNATURE, SIGNER_KEY, METADATA)

_MANIFEST_LINE = re.compile(r"([0-9a-fA-F]{64})[ \t]+(.+)")


def encode_manifest_path(path: str) -> str:
    """Percent-encode the characters RFC 8493 says must be encoded in manifests."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_manifest_path(path: str) -> str:
    """Undo encode_manifest_path (only %25, %0D and %0A are decoded, per RFC 8493)."""
    if "%" not in path:
        return path
    return re.sub(
        r"%(25|0[dD]|0[aA])",
        lambda m: {"25": "%", "0d": "\r", "0a": "\n"}[m.group(1).lower()],
        path,
    )


def manifest_line(path: str, digest: str) -> bytes:
    """One manifest line: hash, two spaces, the encoded path, LF."""
    return f"{digest}  {encode_manifest_path(path)}\n".encode()


def format_manifest(entries: Iterable[tuple[str, str]]) -> bytes:
    """Manifest bytes for (bundle-relative path, sha256) pairs, sorted by the
    UTF-8 bytes of the path so that the same bundle always gives the same file.

    Two spaces separate hash and path, which both BagIt and `sha256sum -c` read.
    """
    rows = sorted(entries, key=lambda e: e[0].encode("utf-8", "surrogateescape"))
    return "".join(f"{digest}  {encode_manifest_path(p)}\n" for p, digest in rows).encode("utf-8")


@dataclass(frozen=True)
class ManifestLineError:
    """A manifest line custody could not accept."""

    line_number: int
    path: str | None
    detail: str


def parse_manifest(data: bytes) -> tuple[dict[str, str], list[ManifestLineError]]:
    """Parse manifest bytes into {path: sha256}, with every line it rejects.

    Rejects lines that are not 'hash whitespace path', unsafe paths, and any
    path listed more than once (even with the same hash).
    """
    entries: dict[str, str] = {}
    errors: list[ManifestLineError] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return entries, [ManifestLineError(0, None, "not valid UTF-8")]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        parsed = parse_manifest_line(raw, number)
        if isinstance(parsed, ManifestLineError):
            errors.append(parsed)
            continue
        path, digest = parsed
        if path in entries:
            errors.append(ManifestLineError(number, path, f"line {number}: listed more than once"))
            continue
        entries[path] = digest
    return entries, errors


def parse_manifest_line(raw: str, number: int) -> tuple[str, str] | ManifestLineError:
    """One manifest line (without its LF) as (path, sha256), or why it is
    rejected: not 'hash whitespace path', or an unsafe path."""
    line = raw[:-1] if raw.endswith("\r") else raw
    m = _MANIFEST_LINE.fullmatch(line)
    if m is None:
        return ManifestLineError(number, None, f"line {number} is not 'sha256 path'")
    path = decode_manifest_path(m.group(2))
    reason = unsafe_path_reason(path)
    if reason is not None:
        return ManifestLineError(number, path, f"line {number}: {reason}")
    return path, m.group(1).lower()


def clean_bag_info_value(value: str) -> str:
    """A bag-info value on one line: control characters become spaces."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", value).strip()


def format_bag_info(fields: Iterable[tuple[str, str]]) -> bytes:
    """bag-info.txt bytes, fields in the given order, one 'Label: value' a line."""
    return "".join(f"{label}: {clean_bag_info_value(value)}\n" for label, value in fields).encode(
        "utf-8"
    )


def parse_bag_info(data: bytes) -> list[tuple[str, str]]:
    """bag-info.txt as (label, value) pairs, continuation lines joined."""
    fields: list[tuple[str, str]] = []
    for line in data.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t") and fields:
            label, value = fields[-1]
            fields[-1] = (label, f"{value} {line.strip()}")
        elif ":" in line:
            label, _, value = line.partition(":")
            fields.append((label.strip(), value.strip()))
    return fields


def is_tag_path(path: str) -> bool:
    """True for bundle paths outside the payload directory."""
    return not path.startswith(PAYLOAD_DIR + "/")


def respelled_text(data: bytes) -> bytes:
    """`data` with the usual accidents of text tools undone: a byte-order mark,
    CR LF line endings, white space at line ends, a missing final line ending.
    Used only to say *what* differs; such bytes are still not custody's."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join(line.rstrip(b" \t") + b"\n" for line in lines)


_TIMESTAMP_NAME = re.compile(r"custody/timestamps/([1-9][0-9]{0,8})\.tsr")


def is_timestamp_path(path: str) -> bool:
    """True for anything under custody/timestamps/."""
    return path.startswith(TIMESTAMPS_DIR + "/")


def timestamp_number(path: str) -> int | None:
    """N for custody/timestamps/N.tsr, None for any other name."""
    m = _TIMESTAMP_NAME.fullmatch(path)
    return int(m.group(1)) if m else None


def timestamp_path(number: int) -> str:
    return f"{TIMESTAMPS_DIR}/{number}.tsr"
