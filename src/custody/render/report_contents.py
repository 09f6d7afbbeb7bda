"""The court report's view inside the files: every archive member with its
hash, and each chat export's conversation as an appendix.

Both come from the signed metadata (ops/contents.py), not from the
`custody verify --json` document, which lists files only. Every value is shown
as report_style shows it: made visible, then HTML-escaped.
"""

from __future__ import annotations

from typing import Any

from custody.ops.contents import ArchiveContents, BundleContents, ChatContents
from custody.render.report_style import digest, e, e_lines, kind, name, when


def archive_sections(contents: BundleContents | None) -> list[str]:
    """A table of members for every archive in the bundle (none when there is none)."""
    if contents is None or not contents.archives:
        return []
    parts = [
        "<h2>Inside the archives</h2>",
        "<p class=small>Each member as recorded at ingest in the signed metadata, read in "
        "place inside the archive (nothing was extracted). The archive's own SHA-256 is in "
        "the list of files; if it is intact, so is every member below.</p>",
    ]
    for archive in contents.archives:
        parts.extend(_archive(archive))
    return parts


def _archive(archive: ArchiveContents) -> list[str]:
    rows = "".join(
        f"<tr><td>{name(m.get('path'))}<br>{digest(m.get('sha256'))}</td>"
        f"<td>{e(m.get('size'))}</td><td>{kind(m.get('mime'))}</td>"
        f"<td class=when>{when(m.get('modified'))}</td>"
        f"<td class=small>{e(m.get('error') or '')}</td></tr>"
        for m in archive.members
    )
    parts = [
        f"<h3>{name(archive.path)}: {archive.member_count} member(s)</h3>",
        "<div class=scroll><table class=members><thead><tr><th>Member and SHA-256</th>"
        "<th>Bytes</th><th>Type</th><th>Modified (as in the archive)</th><th>Note</th></tr>"
        f"</thead>{rows}</table></div>",
    ]
    if archive.member_count > len(archive.members):
        parts.append(
            f"<p class=small>The first {len(archive.members)} of {archive.member_count} "
            "members are listed here; custody show --json lists them all.</p>"
        )
    if archive.not_listed:
        parts.append(
            f"<p class=small>{archive.not_listed} more member(s) were not listed at ingest "
            "(the limit on members per archive).</p>"
        )
    if archive.rejected:
        rejected = "".join(
            f"<tr><td>{name(r.get('name'))}</td><td>{e(r.get('size'))}</td>"
            f"<td>{e(r.get('reason'))}</td></tr>"
            for r in archive.rejected
        )
        parts.append(
            "<p>Members recorded and never read:</p><table><thead><tr><th>Name</th>"
            f"<th>Bytes</th><th>Why</th></tr></thead>{rejected}</table>"
        )
    return parts


def chat_appendix(contents: BundleContents | None) -> list[str]:
    """One appendix per chat export: each message with the time as written, the
    sender, its text read from the evidence, and its attachments with their hashes."""
    if contents is None:
        return []
    parts = []
    for number, chat in enumerate(contents.chats, start=1):
        parts.extend(_chat(chat, number, contents.message_limit))
    return parts


def _chat(chat: ChatContents, number: int, limit: int) -> list[str]:
    parts = [f'<h2 class="appendix">Appendix {number}: the chat {name(chat.path)}</h2>']
    if chat.unreadable is not None:
        parts.append(f"<p>This chat cannot be shown: {e(chat.unreadable)}.</p>")
        return parts
    parts.append(
        f"<p>{chat.message_count} message(s), exported as {e(chat.dialect)}. The text of "
        "each message is read from the evidence itself, at the place recorded at ingest; "
        "a character that could change how the text reads (a control or direction mark) "
        "is shown as an escape such as \\u200e."
    )
    if chat.time_assumption:
        parts.append(f" Times: {e(chat.time_assumption)}.")
    parts.append("</p>")
    if chat.message_count > len(chat.messages):
        parts.append(
            f"<p><b>Only the first {len(chat.messages)} of {chat.message_count} messages "
            f"are printed here</b> (this report shows at most {limit} per chat); "
            f"<span class=mono>custody show BUNDLE --chat {e(chat.path)}</span> prints them "
            "all. Every attachment handed over is listed with its hash under the files or "
            "the archive's members above.</p>"
        )
    rows = "".join(_message(m) for m in chat.messages)
    parts.append(
        "<table class=chat><thead><tr><th>Time as written</th><th>Sender</th>"
        f"<th>Message</th></tr></thead>{rows}</table>"
    )
    return parts


def _message(m: dict[str, Any]) -> str:
    text = f"<div class=text>{e_lines(m.get('text') or '', breakable=True)}</div>"
    if m.get("text_cut"):
        text += "<p class=small>(message cut here: it is longer than this report prints)</p>"
    location = m.get("location")
    if isinstance(location, dict):
        text += f"<p class=small>location {e(location.get('lat'))}, {e(location.get('lon'))}</p>"
    attachments = m.get("attachments")
    for a in attachments if isinstance(attachments, list) else []:
        if not isinstance(a, dict):  # a record signed in another shape shows what it can
            continue
        shown = name(a.get("name") or "(no file name in the export)")
        if a.get("sha256"):
            text += (
                f"<p class=small>Attachment {shown}, in the bundle as {name(a.get('path'))}, "
                f"SHA-256 {digest(a.get('sha256'))}</p>"
            )
        else:
            text += f"<p class=small>Attachment {shown}: {e(a.get('status'))}</p>"
    sender = e(m.get("sender")) if m.get("sender") else "<i>(service message)</i>"
    return (
        f"<tr><td class=when>{e(m.get('time_as_written'))}</td><td>{sender}</td>"
        f"<td>{text}</td></tr>"
    )
