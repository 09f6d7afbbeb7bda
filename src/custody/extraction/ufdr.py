"""Cellebrite UFDR: a ZIP whose members are sorted into folders by category
(files/Image/..., files/Audio/...), with the original device paths only in its
report.xml.

report.xml (namespace http://pa.cellebrite.com/report/2.0) lists each file as

    <file fs="..." path="/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG"
          size="2048" id="..." deleted="Intact" extractionId="0">
      <accessInfo><timestamp name="CreationTime">2022-02-25T10:00:00+02:00</timestamp>
        ...</accessInfo>
      <metadata section="File">
        <item name="Local Path"><![CDATA[files\\Image\\IMG_0001.JPG]]></item>
        <item name="SHA256">...</item><item name="Tags">Image</item>
      </metadata>
    </file>

This module parses that XML as a stream (expat, fed in pieces: a report of a
million files is never held whole), with no DTD and so no entities at all,
bounded depth and bounded text. Pure: bytes in, file entries out.
"""

from __future__ import annotations

import xml.parsers.expat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

REPORT_XML = "report.xml"
MAX_DEPTH = 64
MAX_TEXT = 64 * 1024  # the text of one element; longer text is cut
MAX_ATTRIBUTE = 8192
_CHUNK = 1 << 16


class ReportError(ValueError):
    """report.xml cannot be read: not XML, a DTD, too deep, or it ends early."""


@dataclass
class UfdrFile:
    """One <file> of report.xml, as text."""

    path: str | None
    size: str | None
    deleted: str | None
    fs: str | None
    ident: str | None
    local_path: str | None = None
    sha256: str | None = None
    md5: str | None = None
    tags: str | None = None
    times: dict[str, str] = field(default_factory=dict)
    line: int = 0


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1] if "}" in name else name.rsplit(" ", 1)[-1]


def read_report(stream: IO[bytes]) -> Iterator[UfdrFile]:
    """The <file> entries of a report.xml, in document order, as they are
    parsed. Raises ReportError when the XML is bad or ends early (the entries
    before the fault have been yielded)."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")
    done: list[UfdrFile] = []
    stack: list[str] = []
    state: dict[str, object] = {"file": None, "item": None, "ts": None, "text": [], "depth": 0}

    def no_dtd(*_: object) -> None:
        raise ReportError("report.xml declares a DTD: refused (entities are never expanded)")

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise ReportError(f"report.xml nests deeper than {MAX_DEPTH} elements")
        tag = _local(name)
        stack.append(tag)
        attrs = {_local(k): v[:MAX_ATTRIBUTE] for k, v in attrs.items()}
        current = state["file"]
        if tag == "file" and current is None:
            state["file"] = UfdrFile(
                path=attrs.get("path"),
                size=attrs.get("size"),
                deleted=attrs.get("deleted"),
                fs=attrs.get("fs"),
                ident=attrs.get("id"),
                line=parser.CurrentLineNumber,
            )
            state["depth"] = len(stack)
        elif isinstance(current, UfdrFile):
            if tag == "item":
                state["item"] = attrs.get("name")
                state["text"] = []
            elif tag == "timestamp":
                state["ts"] = attrs.get("name")
                state["text"] = []

    def end(name: str) -> None:
        tag = stack.pop() if stack else _local(name)
        current = state["file"]
        if not isinstance(current, UfdrFile):
            return
        text = "".join(state["text"])[:MAX_TEXT].strip()  # type: ignore[arg-type]
        if tag == "item" and state["item"] is not None:
            key = str(state["item"]).lower()
            if key == "local path":
                current.local_path = text
            elif key == "sha256":
                current.sha256 = text.lower()
            elif key == "md5":
                current.md5 = text.lower()
            elif key == "tags":
                current.tags = text
            state["item"] = None
        elif tag == "timestamp" and state["ts"] is not None:
            if text and len(current.times) < 16:
                current.times[str(state["ts"])] = text
            state["ts"] = None
        elif tag == "file" and len(stack) == int(state["depth"]) - 1:  # type: ignore[call-overload]
            done.append(current)
            state["file"] = None

    def chars(data: str) -> None:
        if state["item"] is not None or state["ts"] is not None:
            parts: list[str] = state["text"]  # type: ignore[assignment]
            if sum(map(len, parts)) < MAX_TEXT:
                parts.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = no_dtd
    parser.EntityDeclHandler = no_dtd
    parser.ExternalEntityRefHandler = no_dtd  # type: ignore[assignment]
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    while True:
        piece = stream.read(_CHUNK)
        try:
            parser.Parse(piece, not piece)
        except xml.parsers.expat.ExpatError as e:
            yield from done
            raise ReportError(f"report.xml is not well-formed XML ({e})") from e
        yield from done
        done.clear()
        if not piece:
            return
