"""What custody show prints: metadata, C2PA rechecks, chats."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from custody.render._base import Output, json_form

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from custody.ops.chat import ChatView
    from custody.ops.recheck import C2paRecheck
    from custody.ops.show import BundleMetadata


class MediaViews(Output):
    """What custody show prints: metadata, C2PA rechecks, chats."""

    @json_form(lambda self, result: result.to_json())
    def metadata(self, result: BundleMetadata) -> None:
        if not result.matches_statement:
            self.warning("the metadata does not match the signed statement: run custody verify")
        rows = [metadata_row(r) for r in _with_members(result.files)]
        self._table(METADATA_COLUMNS, rows, title=metadata_title(result))
        for r in _with_members(result.files):
            note = trust_list_note(r)
            if note is not None:
                self.note(note)  # stderr: stdout stays one table row per line in a pipe
                break

    def c2pa_recheck(self, result: C2paRecheck) -> None:
        self._line("")
        self._line(
            f"C2PA rechecked today with {result.sdk} against the trust list of "
            f"{result.trust_list.get('date')}: {len(result.files)} file(s), "
            f"{result.changed} changed"
        )
        for f in result.files:
            if f["error"]:
                self._line(f"  {f['path']}: {f['error']}")
            elif f["changed"]:
                self._line(
                    f"  {f['path']}: {f['recorded_state']} at ingest, {f['state']} now"
                    + (f" ({', '.join(f['failures'])})" if f["failures"] else "")
                )
            else:
                self._line(f"  {f['path']}: {f['state']}, unchanged")

    @json_form(lambda self, view: view.to_json())
    def chat(self, view: ChatView) -> None:
        self._line(f"{view.path}: {view.dialect}, {len(view.messages)} message(s)")
        if view.assumption:
            self._line(f"Times: {view.assumption}")
        line_based = view.dialect.startswith(("whatsapp", "signal"))
        for m in view.messages:
            if line_based:  # the raw lines already say when and who: print them as they are
                for line in _text_lines(m["text"]):
                    self._line(line)
            else:
                raw = " ".join(m["text"].split())
                self._line(f"[{m.get('time_as_written')}] {m.get('sender') or '(service)'}")
                self._line(f"    {raw[:300]}{'...' if len(raw) > 300 else ''}")
            if isinstance(m.get("location"), dict):
                self._line(f"    location {m['location'].get('lat')}, {m['location'].get('lon')}")
            for a in _dicts(m.get("attachments")):
                # An app may leave a file out of its export without naming it.
                name = a.get("name") or "(no file name in the export)"
                if a.get("sha256"):
                    self._line(f"    attachment {name} -> {a.get('path')} sha256 {a['sha256']}")
                else:
                    self._line(f"    attachment {name}: {a.get('status')}")


# The pieces of the metadata view, shared with its streamed form (render/media_stream.py).

METADATA_COLUMNS = (
    "path",
    "type",
    "captured at",
    "place",
    "device",
    "duration",
    "C2PA",
    "sha256",
    "notes",
)


def metadata_title(result: Any) -> str:
    """The table's title: case, exhibit, bundle (of a BundleMetadata or MetadataStream)."""
    st = result.statement or {}
    title = f"Case {st.get('case') or '?'}, exhibit {st.get('exhibit') or 'none'}, "
    return title + f"bundle {result.bundle}"


def metadata_row(r: dict[str, Any]) -> tuple[str, ...]:
    """One record's row of the metadata table."""
    mime = str(r.get("mime") or "?")
    if r.get("extension_mismatch"):
        mime += " (name says otherwise)"
    errors = r.get("errors")
    if errors:
        mime += f" [{len(errors) if isinstance(errors, list) else errors} error(s)]"
    duration = r.get("duration_s")
    return (
        str(r.get("path")),
        mime,
        str(r.get("captured_at") or ""),
        place_text(r.get("gps"), digits=5),
        device_text(r.get("device")),
        f"{duration:.1f} s" if _is_number(duration) else "",
        _c2pa_cell(r),
        str(r.get("sha256") or ""),
        "; ".join(_notes(r)),
    )


def trust_list_note(r: dict[str, Any]) -> str | None:
    """The C2PA trust list a record was checked against, in words; None if none."""
    c2pa = r.get("c2pa")
    if isinstance(c2pa, dict) and isinstance(c2pa.get("trust_list"), dict):
        trust = c2pa["trust_list"]
        return (
            f"C2PA checked with {c2pa.get('sdk')} against the trust list of "
            f"{trust.get('date')} (SHA-256 {trust.get('sha256')})"
        )
    return None


# A record is read from the bundle's metadata.json, which anyone can edit (show then
# warns that it does not match the statement) or sign with a key of their own: a
# view takes nothing about a value's type for granted, and shows what is there.


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def place_text(gps: Any, *, digits: int, altitude: bool = False) -> str:
    """'lat, lon' (and ', alt m' when asked and known) from a record's gps."""
    if not isinstance(gps, dict):
        return "" if gps is None else str(gps)
    lat, lon, alt = gps.get("lat"), gps.get("lon"), gps.get("alt")
    if lat is None and lon is None:
        return ""
    if _is_number(lat) and _is_number(lon):
        place = f"{lat:.{digits}f}, {lon:.{digits}f}"
    else:
        place = f"{lat}, {lon}"
    return f"{place}, {alt} m" if altitude and alt is not None else place


def device_text(device: Any) -> str:
    """'make model' from a record's device."""
    if not isinstance(device, dict):
        return "" if device is None else str(device)
    return " ".join(str(v) for v in (device.get("make"), device.get("model")) if v)


def _with_members(files: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each record, then the members of an archive handed over, shown under it."""
    for r in files:
        yield r
        details = r.get("details")
        archive = details.get("archive") if isinstance(details, dict) else None
        members = archive.get("members") if isinstance(archive, dict) else None
        for m in _dicts(members):
            yield {**m, "path": f"{r.get('path')}/{m.get('path')}"}


def _text_lines(text: str) -> list[str]:
    """A message's lines as the export holds them (LF or CRLF line ends): each is
    printed as a line, and anything else in it is made visible by _line."""
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]


_MEDIA_FAMILIES = ("image", "video", "audio")


def _family(record: dict[str, Any]) -> str | None:
    details = record.get("details")
    family = details.get("family") if isinstance(details, dict) else None
    return str(family) if family else None


def _c2pa_cell(record: dict[str, Any]) -> str:
    if "c2pa" not in record:
        return ""  # metadata was not extracted
    c2pa = record.get("c2pa")
    if c2pa is None:
        # Checked at ingest: null means no manifest at all (docs/metadata.md).
        return "none found" if _family(record) in _MEDIA_FAMILIES else ""
    if not isinstance(c2pa, dict):
        return ""
    state = str(c2pa.get("state"))
    if state == "remote, not fetched":
        return f"{state}: {c2pa.get('remote_url')}"
    listed = c2pa.get("failures")
    failures = [
        str(f)
        for f in (listed if isinstance(listed, list) else [])
        if f != "signingCredential.untrusted"
    ]
    if state == "invalid" and failures:
        return f"invalid ({', '.join(failures)})"
    if state == "valid":
        return "valid (signer not on the trust list)"
    return state


def _notes(record: dict[str, Any]) -> list[str]:
    """What the JSON says of a file that an investigator must not miss, in words."""
    details = record.get("details")
    details = details if isinstance(details, dict) else {}
    notes = []
    captured = record.get("captured_at")
    if isinstance(captured, str) and captured:
        if not re.search(r"(Z|[+-]\d\d:\d\d)$", captured):
            notes.append("capture time has no zone: the device's local time")
        source = details.get("captured_at_source")
        if source:
            notes.append(f"time from {source}")
    named = details.get("file_name_date")
    if isinstance(named, dict) and named.get("value"):
        notes.append(f"{named.get('value')} {named.get('label') or 'from the file name'}")
    chat = details.get("chat")
    if isinstance(chat, dict) and isinstance(chat.get("messages"), list):
        notes.append(
            f"{chat.get('dialect')} chat export, {len(chat['messages'])} message(s): "
            "read it with custody show --chat"
        )
    if details.get("capture_metadata"):
        notes.append(str(details["capture_metadata"]))
    extraction = details.get("extraction")
    if isinstance(extraction, dict):  # a phone extraction (docs/extraction.md)
        notes.append(
            f"{extraction.get('format')} extraction, {extraction.get('members')} member(s) "
            f"listed in {extraction.get('members_file')}"
        )
    if _family(record) == "email":
        senders = details.get("from")
        if isinstance(senders, list) and senders:
            notes.append("from " + ", ".join(str(s) for s in senders))
        if details.get("subject"):
            notes.append(f"subject {details['subject']}")
    errors = record.get("errors")
    if isinstance(errors, list):
        notes.extend(f"error: {e}" for e in errors)
    return notes
