"""What custody show prints: metadata, C2PA rechecks, chats."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ._base import Output

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from ..bundle.chat import ChatView
    from ..bundle.recheck import C2paRecheck
    from ..bundle.show import BundleMetadata


class MediaViews(Output):
    """What custody show prints: metadata, C2PA rechecks, chats."""

    def metadata(self, result: BundleMetadata) -> None:
        if self.json_output:
            self.json(result.to_json())
            return
        if not result.matches_statement:
            self.warning("the metadata does not match the signed statement: run custody verify")
        rows = []
        for r in _with_members(result.files):
            gps = r.get("gps") or {}
            place = f"{gps['lat']:.5f}, {gps['lon']:.5f}" if gps.get("lat") is not None else ""
            device = r.get("device") or {}
            who = " ".join(str(v) for v in (device.get("make"), device.get("model")) if v)
            mime = str(r.get("mime") or "?")
            if r.get("extension_mismatch"):
                mime += " (name says otherwise)"
            if r.get("errors"):
                mime += f" [{len(r['errors'])} error(s)]"
            duration = r.get("duration_s")
            rows.append(
                (
                    str(r.get("path")),
                    mime,
                    str(r.get("captured_at") or ""),
                    place,
                    who,
                    f"{duration:.1f} s" if isinstance(duration, (int, float)) else "",
                    _c2pa_cell(r.get("c2pa")),
                )
            )
        self._table(("path", "type", "captured at", "place", "device", "duration", "C2PA"), rows)
        for r in _with_members(result.files):
            c2pa = r.get("c2pa")
            if isinstance(c2pa, dict) and c2pa.get("trust_list"):
                trust = c2pa["trust_list"]
                self.note(  # stderr: stdout stays one table row per line in a pipe
                    f"C2PA checked with {c2pa.get('sdk')} against the trust list of "
                    f"{trust.get('date')} (SHA-256 {trust.get('sha256')})"
                )
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

    def chat(self, view: ChatView) -> None:
        if self.json_output:
            self.json(view.to_json())
            return
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
            if m.get("location"):
                self._line(f"    location {m['location']['lat']}, {m['location']['lon']}")
            for a in m.get("attachments") or []:
                if a.get("sha256"):
                    self._line(f"    attachment {a['name']} -> {a['path']} sha256 {a['sha256']}")
                else:
                    self._line(f"    attachment {a['name']}: {a['status']}")


def _with_members(files: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each record, then the members of an archive handed over, shown under it."""
    for r in files:
        yield r
        archive = (r.get("details") or {}).get("archive") or {}
        for m in archive.get("members") or []:
            if isinstance(m, dict):
                yield {**m, "path": f"{r.get('path')}/{m.get('path')}"}


def _text_lines(text: str) -> list[str]:
    """A message's lines as the export holds them (LF or CRLF line ends): each is
    printed as a line, and anything else in it is made visible by _line."""
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]


def _c2pa_cell(c2pa: Any) -> str:
    if not isinstance(c2pa, dict):
        return ""
    state = str(c2pa.get("state"))
    if state == "remote, not fetched":
        return f"{state}: {c2pa.get('remote_url')}"
    failures = [f for f in c2pa.get("failures") or [] if f != "signingCredential.untrusted"]
    if state == "invalid" and failures:
        return f"invalid ({', '.join(failures)})"
    if state == "valid":
        return "valid (signer not on the trust list)"
    return state
