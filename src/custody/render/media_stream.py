"""`custody show --json` written as the records are read (issue 26): the same
document, byte for byte, as MediaViews.metadata writes from a whole
BundleMetadata, with one record held at a time."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from custody.render._base import Output, _dumps

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from custody.ops.show_stream import MetadataStream

_RECORD_INDENT = " " * 4  # a record is at depth 2 of the document: {"files": [ {...} ]}


class MediaStreamViews(Output):
    """custody show, streamed."""

    def metadata_stream(self, result: MetadataStream) -> None:
        if not self.json_output:  # a table is as wide as its widest cell: read whole
            from custody.ops.show import BundleMetadata

            self.metadata(  # type: ignore[attr-defined]  # MediaViews, beside it in Renderer
                BundleMetadata(
                    result.bundle,
                    result.statement,
                    tuple(result.records()),
                    result.matches_statement,
                )
            )
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
