"""The report a court files, printed to PDF with headless Chromium and read back
with pdftotext: every page says which case, exhibit and bundle it belongs to and
"page N of M"; every member of a WhatsApp export handed over as a ZIP and every
chat attachment is listed with its whole hash; the chat itself is an appendix,
in order; long names and hashes are not cut mid-word."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from browser_page import print_to_pdf
from conftest import EXAMPLES, Env
from custody.ops.contents import MESSAGE_LIMIT
from custody.render.report_html import render_report

CASE, EXHIBIT = "ICC-2026-014", "JS/1"
PHOTO = "00000012-PHOTO-2022-02-25-14-03-10.jpg"
# Distinctive words, found nowhere else in the report, so that counting them
# in the PDF counts the times each long name was printed whole.
DOCUMENT = "00000014-DOCUMENT-Protokol_Zhytomyrskyi_oblast_Dniprovskyi_Kotsiubynskoho_testimony.pdf"
LOOSE = "Witness statement recorded near the Mariupolskyi checkpoint at night by Berdychivskyi.txt"
WORDS = ("Zhytomyrskyi", "Dniprovskyi", "Kotsiubynskoho", "Mariupolskyi", "Berdychivskyi")
MESSAGES = 70


def _chat(count: int) -> str:
    lines = [
        "\u200e[25/02/2022, 13:58:02] Olena K.: \u200eMessages and calls are end-to-end "
        "encrypted.\n",
        f"[25/02/2022, 14:03:10] Olena K.: \u200e<attached: {PHOTO}>\n",
    ]
    for i in range(count):
        sender = "Andrii M." if i % 2 else "Olena K."
        lines.append(
            f"[25/02/2022, {14 + i // 600:02d}:{i // 10 % 60:02d}:{i % 10:02d}] {sender}: "
            f"message number {i:04d} from the street\n"
        )
    lines.append("[25/02/2022, 23:15:00] Olena K.: \u200e<attached: 00000013-VIDEO-x.mp4>\n")
    lines.append(f"[25/02/2022, 23:16:00] Olena K.: \u200e<attached: {DOCUMENT}>\n")
    return "".join(lines)


def whatsapp_source(root: Path, messages: int = MESSAGES) -> dict[str, bytes]:
    """A folder holding a WhatsApp export as a ZIP and a loose file with a long name;
    returns the ZIP's members."""
    root.mkdir()
    members = {
        "_chat.txt": _chat(messages).encode(),
        PHOTO: (EXAMPLES / "IMG_20220225_140310.jpg").read_bytes(),
        DOCUMENT: b"%PDF-1.4 a statement",
    }
    with zipfile.ZipFile(root / "WhatsApp Chat - Olena K.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    (root / LOOSE).write_text("I saw it.\n")
    return members


@pytest.fixture
def chat_bundle(env: Env, officer: dict, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    members = whatsapp_source(tmp_path / "handed-over")
    out = tmp_path / "bundle"
    done = env.run(
        "ingest", tmp_path / "handed-over", "--case", CASE, "--exhibit", EXHIBIT, "--out", out
    )
    assert done.exit_code == 0, done.output
    return out, members


def report(env: Env, bundle: Path, target: Path) -> tuple[int, dict]:
    result = env.run("verify", bundle, "--report", target, "--json")
    return result.exit_code, json.loads(result.stdout)


def print_pdf(html: Path, tmp_path: Path) -> tuple[list[str], int]:
    """The text of each printed page (pdftotext -layout) and the page count."""
    pdf = print_to_pdf(html, tmp_path)
    text = subprocess.run(
        ["pdftotext", "-layout", pdf, "-"], capture_output=True, text=True, check=True
    ).stdout
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]
    return text.split("\f")[:count], count


def printed_hashes(text: str) -> list[str]:
    """Every SHA-256 in the text: whole on one line, or (the report's documented
    split) its first 32 digits above its last 32, at the same place on the next line."""
    lines = text.splitlines()
    found = re.findall(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])", text)
    half = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
    for k, line in enumerate(lines[:-1]):
        below = {m.start(): m.group() for m in half.finditer(lines[k + 1])}
        for m in half.finditer(line):
            for column in range(m.start() - 2, m.start() + 3):
                if column in below:
                    found.append(m.group() + below[column])
    return found


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_page_names_the_case_exhibit_bundle_and_page_n_of_m(
    env: Env, chat_bundle: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    bundle, _ = chat_bundle
    code, data = report(env, bundle, tmp_path / "report.html")
    assert code == 0
    pages, count = print_pdf(tmp_path / "report.html", tmp_path)
    assert count >= 3  # the chat appendix alone takes more than a page
    for n, page in enumerate(pages, start=1):
        assert re.search(rf"\bpage {n} of {count}\b", page), page
        assert f"Case {CASE}, exhibit {EXHIBIT}" in page
        assert f"Bundle {data['bundle_fingerprint']}" in page
        assert len(re.findall(r"\bpage \d+ of \d+\b", page)) == 1


def test_every_member_and_attachment_is_printed_with_its_whole_hash(
    env: Env, chat_bundle: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    bundle, members = chat_bundle
    code, data = report(env, bundle, tmp_path / "report.html")
    assert code == 0
    pages, _ = print_pdf(tmp_path / "report.html", tmp_path)
    text = "\n".join(pages)
    hashes = printed_hashes(text)
    for member, content in members.items():
        assert sha(content) in hashes, member
    for f in data["files"]:
        assert f["sha256"] in hashes, f["path"]
    # The photo and the document are attachments of the chat: printed with their
    # hash in the appendix as well as in the list of members.
    assert hashes.count(sha(members[PHOTO])) >= 2
    assert hashes.count(sha(members[DOCUMENT])) >= 2
    assert "00000013-VIDEO-x.mp4: referenced but not handed over" in text
    assert "Inside the archives" in text and "3 member(s)" in text


def test_the_chat_appendix_lists_the_messages_in_order(
    env: Env, chat_bundle: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    bundle, _ = chat_bundle
    report(env, bundle, tmp_path / "report.html")
    pages, _ = print_pdf(tmp_path / "report.html", tmp_path)
    text = "\n".join(pages)
    appendix = text.index("Appendix 1: the chat")
    numbers = [int(n) for n in re.findall(r"message number (\d{4})", text[appendix:])]
    assert numbers == list(range(MESSAGES))
    # The time as written and the sender in their own columns, then the raw line.
    assert re.search(r"^\s*25/02/2022, 14:00:07\s+Andrii M\.\s+\[25/02/2022", text, re.M)
    assert text.index("Andrii M.", appendix) > appendix
    assert "\\u200e" in text[appendix:]  # a direction mark is shown, not obeyed


def test_long_names_and_hashes_are_not_cut_mid_word(
    env: Env, chat_bundle: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    bundle, _ = chat_bundle
    report(env, bundle, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text("utf-8")
    pages, _ = print_pdf(tmp_path / "report.html", tmp_path)
    text = "\n".join(pages)
    for word in WORDS:
        printed = html.count(word)
        assert printed >= 1
        # Each time the page holds the word, the PDF shows it whole on one line.
        assert text.count(word) == printed, word
    # No hex run on a line is a piece of a hash other than one of its two halves.
    for run in re.findall(r"(?<![0-9a-f])[0-9a-f]{20,}(?![0-9a-f])", text):
        assert len(run) in (32, 64), run


def test_a_huge_chat_is_cut_and_says_so(env: Env, officer: dict, tmp_path: Path) -> None:
    whatsapp_source(tmp_path / "src", messages=MESSAGE_LIMIT + 50)
    out = tmp_path / "bundle"
    assert env.run("ingest", tmp_path / "src", "--case", CASE, "--out", out).exit_code == 0
    code, _ = report(env, out, tmp_path / "report.html")
    assert code == 0
    page = (tmp_path / "report.html").read_text("utf-8")
    total = MESSAGE_LIMIT + 50 + 4
    assert f"Only the first {MESSAGE_LIMIT} of {total} messages" in page
    assert f"message number {MESSAGE_LIMIT - 3:04d}" in page
    assert f"message number {MESSAGE_LIMIT - 2:04d}" not in page
    assert f"{sha(b'%PDF-1.4 a statement')[:32]}" in page  # still among the members


def test_a_changed_chat_is_named_not_shown(
    env: Env, chat_bundle: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    bundle, members = chat_bundle
    zpath = bundle / "data" / "WhatsApp Chat - Olena K.zip"
    with zipfile.ZipFile(zpath, "w") as zf:  # the same members, one message forged
        for member, content in members.items():
            zf.writestr(member, content.replace(b"number 0003", b"number 9999"))
    code, _ = report(env, bundle, tmp_path / "report.html")
    assert code == 1
    page = (tmp_path / "report.html").read_text("utf-8")
    assert "NOT VERIFIED." in page
    assert "This chat cannot be shown" in page and "differs from the file recorded" in page
    assert "number 9999" not in page


def test_members_come_only_from_the_signed_metadata(
    env: Env, chat_bundle: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    bundle, _ = chat_bundle
    metadata = bundle / "custody" / "metadata.json"
    metadata.write_bytes(metadata.read_bytes().replace(b"Olena K.", b"Someone E"))
    code, _ = report(env, bundle, tmp_path / "report.html")
    assert code == 1
    page = (tmp_path / "report.html").read_text("utf-8")
    assert "Inside the archives" not in page and "Appendix" not in page
    assert "Someone E" not in page


def test_hostile_values_cannot_leave_the_page_margins() -> None:
    case = 'C"; } </style><script>alert(1)</script>\u202e\\'
    page = render_report({"case": case, "exhibit": "E\n1", "bundle_fingerprint": "AB"})
    assert "<script" not in page.lower()
    assert page.count("</style>") == 1
    head = re.search(r"@top-left \{ content: (\S*);", page)
    assert head is not None
    assert re.fullmatch(r'"(?:[0-9A-Za-z]|\\[0-9a-f]{6})*"', head.group(1))
    assert "\\00005cu202e" in head.group(1)  # the bidi override, shown as \u202e
    assert 'content: "page " counter(page) " of " counter(pages)' in page
    assert '<meta name="viewport"' in page


def test_hostile_member_names_and_chat_text_are_shown_escaped(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    hostile = "\x1b[2J\x1b[32mVERIFIED\x1b[0m\x07\x9b\u202eevil\u2066\tend</td><script>x</script>"
    shown = "\\x1b[2J\\x1b[32mVERIFIED\\x1b[0m\\x07\\u009b\\u202eevil\\u2066\\tend"
    src = tmp_path / "src"
    src.mkdir()
    # A text with C0 controls would not be taken for a chat: C1, bidi, tab and markup.
    said = "\x9b\u202eevil\u2066\tend</td><script>x</script>"
    said_shown = "\\u009b\\u202eevil\\u2066\\tend&lt;/td&gt;&lt;script&gt;x&lt;/script&gt;"
    chat = _chat(2) + (
        f"[25/02/2022, 23:17:00] Andrii M.: {said}\n[25/02/2022, 23:18:00] {said}: hi\n"
    )
    allowed = "evil\u202e</td><script>x</script>.jpg"  # no control character: listed
    with zipfile.ZipFile(src / "WhatsApp Chat - X.zip", "w") as zf:
        zf.writestr("_chat.txt", chat)
        zf.writestr(f"{hostile}.jpg", b"not a photo")  # refused, listed as never read
        zf.writestr(allowed, b"not a photo either")
    out = tmp_path / "bundle"
    assert env.run("ingest", src, "--case", CASE, "--out", out).exit_code == 0
    code, _ = report(env, out, tmp_path / "report.html")
    assert code == 0
    page = (tmp_path / "report.html").read_text("utf-8")
    raw = re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]", page)
    assert raw is None, raw
    assert "<script" not in page.lower() and "</td><script" not in page
    text = page.replace("<wbr>", "")
    member = text[text.index("Inside the archives") : text.index("Appendix 1")]
    appendix = text[text.index("Appendix 1") :]
    assert f"{shown}&lt;/td&gt;&lt;script&gt;x&lt;/script&gt;.jpg" in member  # never read
    assert "evil\\u202e&lt;/td&gt;&lt;script&gt;x&lt;/script&gt;.jpg" in member
    assert f"Andrii M.: {said_shown}" in appendix  # the message text
    assert f"<td>{said_shown}</td>" in appendix  # the sender
