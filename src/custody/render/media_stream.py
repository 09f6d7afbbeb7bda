"""`custody show --json` written as the records are read (issue 26): the same
document, byte for byte, as MediaViews.metadata writes from a whole
BundleMetadata, with one record held at a time."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from custody.render._base import Output, _dumps, _is_terminal
from custody.render.media import (
    METADATA_COLUMNS,
    _with_members,
    metadata_row,
    metadata_title,
    trust_list_note,
)

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from custody.ops.show_stream import MetadataStream

_RECORD_INDENT = " " * 4  # a record is at depth 2 of the document: {"files": [ {...} ]}


class MediaStreamViews(Output):
    """custody show, streamed."""

    def metadata_stream(self, result: MetadataStream) -> None:
        if not self.json_output:
            self._metadata_text(result)
            return
        # The document as json.dumps(..., indent=2) writes it: the head's fields, then
        # each record indented to its depth. _dumps makes each piece safe on its own,
        # which is what it does to the whole (json_safe and the escapes are per string).
        head = _dumps({**result.head_json(), "files": []}, indent=2)
        tail = '"files": []\n}'
        assert head.endswith(tail)
        out = sys.stdout
        out.write(head[: -len("[]\n}")])
        first = True
        for record in result.records():
            text = _dumps(record, indent=2).replace("\n", "\n" + _RECORD_INDENT)
            out.write(("[\n" if first else ",\n") + _RECORD_INDENT + text)
            first = False
        out.write("[]\n}\n" if first else "\n  ]\n}\n")
        out.flush()

    def _metadata_text(self, result: MetadataStream) -> None:
        """The metadata table: in a pipe, a line a record as it is read; on a
        terminal (a table is as wide as its widest cell) read whole first."""
        if not result.matches_statement:
            self.warning("the metadata does not match the signed statement: run custody verify")
        notes: list[str] = []  # the first trust-list note, kept on the way
        rows: Iterable[tuple[str, ...]] = (
            metadata_row(r) for r in _noting(_with_members(result.records()), notes)
        )
        if _is_terminal(sys.stdout):
            rows = list(rows)
        self._table(METADATA_COLUMNS, rows, title=metadata_title(result))  # type: ignore[arg-type]
        if notes:
            self.note(notes[0])  # stderr: stdout stays one table row per line in a pipe


def _noting(records: Iterable[dict[str, Any]], notes: list[str]) -> Iterator[dict[str, Any]]:
    for r in records:
        if not notes:
            note = trust_list_note(r)
            if note is not None:
                notes.append(note)
        yield r
