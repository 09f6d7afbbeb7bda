"""BagIt checks: bagit.txt, the payload against its manifest, Payload-Oxum,
the tag manifest. Pure functions of a scan; each appends Problems."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from pathlib import Path

from custody.base.bytediff import describe_difference
from custody.base.models import Problem
from custody.bundle.format import layout
from custody.bundle.format.chain import is_chain_path
from custody.bundle.read.scan import BundleScan, ScannedFile
from custody.bundle.verify.manifest import ListedManifest, join, sorted_listing


def check_bagit_txt(scan: BundleScan, problems: list[Problem]) -> None:
    data = scan.tag_bytes.get(layout.BAGIT_TXT)
    if data is None:
        problems.append(Problem("missing", layout.BAGIT_TXT, "required tag file is missing"))
        return
    difference = describe_difference(data, layout.BAGIT_TXT_BYTES)
    if difference is not None:
        problems.append(Problem("bad_tag_format", layout.BAGIT_TXT, difference))
    fields = dict(layout.parse_bag_info(data))
    if fields.get("BagIt-Version") != "1.0" or fields.get("Tag-File-Character-Encoding") != "UTF-8":
        problems.append(
            Problem("bad_bagit", layout.BAGIT_TXT, "not 'BagIt-Version: 1.0' with UTF-8 encoding")
        )


def check_payload(
    scan: BundleScan, manifest: ListedManifest | Mapping[str, str], problems: list[Problem]
) -> None:
    """The payload against its manifest, in one merge join of the two in path
    order (neither held in memory). Problems come out as they always did:
    those of listed files in manifest order, then unlisted files in path
    order (renamed when a missing file had their content), then the missing."""
    listed = ((p, (d, n)) for p, d, n in sorted_listing(manifest))
    held: list[tuple[int, Problem]] = []
    missing_at: list[tuple[int, str, str]] = []
    unlisted: list[tuple[str, ScannedFile]] = []
    for path, entry, found in join(listed, scan.files.payload()):
        if entry is None:
            unlisted.append((path, found))
            continue
        digest, order = entry
        if not path.startswith(layout.PAYLOAD_DIR + "/"):
            held.append(
                (
                    order,
                    Problem("bad_manifest", path, "payload manifest lists a path outside data/"),
                )
            )
        elif found is None:
            if path not in scan.odd_paths:
                missing_at.append((order, path, digest))
        elif found.sha256 != digest:
            held.append(
                (
                    order,
                    Problem("changed", path, f"SHA-256 is {found.sha256}, manifest says {digest}"),
                )
            )
    held.sort(key=lambda h: h[0])
    problems.extend(p for _, p in held)
    missing_at.sort()
    missing = {path: digest for _, path, digest in missing_at}
    by_digest: dict[str, list[str]] = {}
    for path, digest in missing.items():
        by_digest.setdefault(digest, []).append(path)
    for path, found in unlisted:
        twins = by_digest.get(found.sha256 or "", [])
        if twins:
            original = twins.pop(0)
            del missing[original]
            problems.append(
                Problem("renamed", path, f"not in the manifest; same content as missing {original}")
            )
        else:
            problems.append(Problem("extra", path, "payload file not in the manifest"))
    for path in missing:
        problems.append(Problem("missing", path, "listed in the manifest but not in the bundle"))


def check_read_back(
    manifest_bytes: bytes | Path, copied: Mapping[str, tuple[int, str]], problems: list[Problem]
) -> int:
    """The payload manifest (its bytes, or the file just written, read as a
    stream), read line by line with the verifier's own line parser, against the
    files just copied ({manifest path: (size, SHA-256)}, which may live on disk):
    a name written one way and read another is caught before anyone sees it.
    Streams, so that a million files cost no second dictionary and no copy of
    the manifest. Returns the number of files the manifest lists."""
    listed = 0
    matched = 0
    previous: bytes | None = None
    for number, parsed in _manifest_lines(manifest_bytes):
        if isinstance(parsed, layout.ManifestLineError):
            problems.append(Problem("bad_manifest", layout.MANIFEST, parsed.detail))
            continue
        path, digest = parsed
        key = path.encode("utf-8")
        if previous is not None and key <= previous:
            problems.append(
                Problem("bad_manifest", layout.MANIFEST, f"line {number}: repeated or out of order")
            )
            continue
        previous = key
        listed += 1
        copy = copied.get(path)
        if copy is None:
            problems.append(Problem("extra", path, "listed in the manifest but not copied"))
        elif copy[1] != digest:
            problems.append(Problem("changed", path, "listed with another SHA-256 than the copy's"))
        else:
            matched += 1
    if matched != len(copied):
        # Only when something is wrong: then the names read are gathered.
        read = {p[0] for _, p in _manifest_lines(manifest_bytes) if isinstance(p, tuple)}
        for path in sorted(p for p in copied if p not in read):
            problems.append(Problem("missing", path, "copied, but the manifest does not list it"))
    return listed


def _manifest_lines(
    data: bytes | Path,
) -> Iterator[tuple[int, tuple[str, str] | layout.ManifestLineError]]:
    with io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, layout.ManifestLineError(number, None, f"line {number} is not UTF-8")
                continue
            yield number, layout.parse_manifest_line(line.removesuffix("\n"), number)


def check_oxum(scan: BundleScan, bag_info: dict[str, str], problems: list[Problem]) -> None:
    oxum = bag_info.get("Payload-Oxum")
    if oxum is None:
        problems.append(Problem("bad_bag_info", layout.BAG_INFO, "no Payload-Oxum"))
        return
    actual = f"{scan.files.payload_bytes}.{scan.files.payload_count}"
    if oxum != actual:
        problems.append(
            Problem(
                "oxum_mismatch", layout.BAG_INFO, f"Payload-Oxum is {oxum}, payload is {actual}"
            )
        )


def check_tag_manifest(scan: BundleScan, problems: list[Problem]) -> None:
    data = scan.tag_bytes.get(layout.TAG_MANIFEST)
    if data is None:
        problems.append(Problem("missing", layout.TAG_MANIFEST, "required tag file is missing"))
        listed: dict[str, str] = {}
    else:
        listed, errors = layout.parse_manifest(data)
        respelled = layout.respelled_text(data)
        if respelled != data:
            # A BOM, CR LF or stray blanks: judge the listing by what it says, and
            # name the spelling once below, rather than a cascade of odd paths.
            again, errors_again = layout.parse_manifest(respelled)
            if not errors_again:
                listed, errors = again, errors_again
        for err in errors:
            problems.append(Problem("bad_manifest", layout.TAG_MANIFEST, err.detail))
        if not errors:
            # The tag manifest is not signed: a court is shown exactly the bytes
            # custody wrote, so any other spelling of the same list is named.
            difference = describe_difference(data, layout.format_manifest(listed.items()))
            if difference is not None:
                problems.append(Problem("bad_tag_format", layout.TAG_MANIFEST, difference))
    for path, digest in listed.items():
        found = scan.files.get(path)
        if not layout.is_tag_path(path):
            problems.append(Problem("bad_manifest", path, "tag manifest lists a payload file"))
        elif found is None:
            if path not in scan.odd_paths:
                problems.append(Problem("missing", path, "listed in the tag manifest but missing"))
        elif found.sha256 != digest:
            problems.append(
                Problem("changed", path, f"SHA-256 is {found.sha256}, tag manifest says {digest}")
            )
    for path in sorted(scan.files.tags()):
        if layout.is_tag_path(path) and path != layout.TAG_MANIFEST and path not in listed:
            if data is None and path in layout.REQUIRED_TAG_FILES:
                continue
            if is_chain_path(path) or layout.is_timestamp_path(path) or path == layout.TEAM_PROOF:
                # Hand-over records authenticate themselves (signatures, and the
                # chain walk reports any file that does not belong): one written
                # just before a crash, not yet listed, is not an intruder. So do
                # timestamp tokens (bundle/verify/check_time.py checks and mentions them)
                # and the team proof (docs/team.md).
                continue
            problems.append(Problem("extra", path, "tag file not in the tag manifest"))
    for required in layout.REQUIRED_TAG_FILES:
        if required not in scan.files and required not in scan.odd_paths and required not in listed:
            problems.append(Problem("missing", required, "required tag file is missing"))
