"""The output channels every view writes through: plain lines, label/value lists,
tables, JSON and progress, on a terminal (rich) or in a pipe (plain text).

Every line, field and cell passes through `textsafe.visible` here, on a terminal
and in a pipe alike, so that no name or value from evidence can drive a terminal,
forge a line or split a tab-separated field, whatever view it is shown by; every
JSON document passes through `_dumps`. A view that needs several lines writes
several lines.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

from custody.base.streamed import StreamedList
from custody.base.textsafe import json_escape_controls, json_safe, visible

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from rich.console import Console

    from custody.base.models import ProgressEvent
    from custody.base.progress import ProgressCallback


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


View = TypeVar("View", bound=Callable[..., None])


def json_form(to_json: Callable[..., Any]) -> Callable[[View], View]:
    """A view's --json form, in one place: with --json the view writes
    `to_json(self, ...)` (called with the view's own arguments) through the one JSON
    formatter, Output.json; without it, the view writes its text. The view itself
    holds no --json branch."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def render(self: Output, *args: Any, **kwargs: Any) -> None:
            if self.json_output:
                self.json(to_json(self, *args, **kwargs))
                return
            view(self, *args, **kwargs)

        return cast(View, render)

    return decorate


class Output:
    """Writes results to stdout and everything else to stderr."""

    def __init__(self, *, json_output: bool = False, quiet: bool = False) -> None:
        self.json_output = json_output
        self.quiet = quiet

    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(markup=False, highlight=False, emoji=False, soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, markup=False, highlight=False, emoji=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        return _is_terminal(sys.stderr) and not self.json_output and not self.quiet

    # --- plain lines -----------------------------------------------------------------

    def _line(self, text: str, *, style: str | None = None, err: bool = False) -> None:
        """One line, with every control character in it made visible: styled by
        rich on a terminal, plain text anywhere else."""
        self._emit(visible(text), style=style, err=err)

    def _emit(self, text: str, *, style: str | None = None, err: bool = False) -> None:
        """One line of text that is already safe to show."""
        stream = sys.stderr if err else sys.stdout
        if _is_terminal(stream):
            (self.err if err else self.out).print(text, style=style)
        else:
            stream.write(text + "\n")
            stream.flush()

    def _fields(self, rows: Sequence[tuple[str, str]]) -> None:
        """Labels and values in two columns."""
        if _is_terminal(sys.stdout):
            from rich.table import Table

            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold")
            table.add_column()
            for label, value in rows:
                table.add_row(visible(label), visible(value))
            self.out.print(table)
            return
        width = max((len(label) for label, _ in rows), default=0)
        for label, value in rows:
            self._line(f"{label:<{width}}  {value}")

    def _table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        title: str | None = None,
        whole: Sequence[Sequence[str]] | None = None,
        compact: bool = False,
    ) -> None:
        """A table: drawn by rich on a terminal; in a pipe or a file, tab-separated
        lines (a '# title' line, a header, then one line a row) with every field
        whole (`whole`, when given, holds the rows' full values) and never cut.
        `compact` draws no lines on a terminal, only two spaces between columns,
        for a table of many narrow columns."""
        if _is_terminal(sys.stdout):
            shown = [[visible(v) for v in row] for row in rows]
            if _fits(columns, shown, self.out.width, compact=compact):
                from rich.table import Table

                frame: dict[str, Any] = (
                    {"box": None, "pad_edge": False, "header_style": "bold underline"}
                    if compact
                    else {}
                )
                table = Table(
                    title=visible(title) if title else None, title_justify="left", **frame
                )
                # A column is never narrower than its longest word: rich then wraps
                # between words, and no hash, time or name is cut. The widths are
                # chosen here: rich's own narrowing can take a column below its
                # minimum and then widen it again, past the terminal's edge.
                widths = _widths(columns, shown, self.out.width - _frame(columns, compact))
                for column, width in zip(columns, widths, strict=True):
                    table.add_column(column, overflow="fold", width=width)
                for cells in shown:
                    table.add_row(*cells)
                self.out.print(table)
            else:
                self._blocks(columns, shown, title=title)
            return
        if title:
            self._line(f"# {title}")
        self._emit("\t".join(visible(c) for c in columns))
        for row in whole if whole is not None else rows:
            self._emit("\t".join(visible(v) for v in row))

    def _blocks(
        self, columns: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None
    ) -> None:
        """A table too wide for the terminal, as one labelled block a row: the first
        column as the block's heading, then a line for each other non-empty cell,
        wrapped between words and never inside one."""
        width = max(self.out.width, 40)
        label_width = max((len(c) for c in columns[1:]), default=0)
        if title:
            import textwrap

            for line in textwrap.wrap(
                visible(title), width, break_long_words=False, break_on_hyphens=False
            ):
                self._emit(line, style="bold")
            self._emit("")
        for n, row in enumerate(rows):
            if n:
                self._emit("")
            self._emit(row[0], style="bold")
            for label, value in zip(columns[1:], row[1:], strict=False):
                if value:
                    for line in _labelled(label, value, label_width, width):
                        self._emit(line)

    def _rich_table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        no_wrap: Sequence[str] = (),
        **kw: Any,
    ) -> None:
        """A table drawn by rich whatever the output is, every cell made visible;
        the columns in `no_wrap` are never wrapped, the others fold."""
        from rich.table import Table

        if kw.get("title"):
            kw["title"] = visible(kw["title"])
        table = Table(**kw)
        for column in columns:
            if column in no_wrap:
                table.add_column(column, no_wrap=True)
            else:
                table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(visible(v) for v in row))
        self.out.print(table)

    def error(self, line: str) -> None:
        self._line(f"custody: error: {line}", style="bold red", err=True)

    def warning(self, line: str) -> None:
        if not self.quiet:
            self._line(f"custody: warning: {line}", style="yellow", err=True)

    def note(self, line: str) -> None:
        """A remark for the person at the terminal, on stderr."""
        self._line(line, err=True)

    def info(self, line: str) -> None:
        if not self.quiet and not self.json_output:
            self._line(line)

    def json_line(self, obj: Any) -> None:
        """One JSON Lines record on stdout."""
        sys.stdout.write(_dumps(obj, indent=None) + "\n")
        sys.stdout.flush()

    def json(self, obj: Any) -> None:
        """One JSON document, as _dumps writes it. A document that holds a
        StreamedList (a report of a million files) is written as it is encoded,
        one item at a time, so that it is never held whole."""
        if not _holds_streamed(obj):
            sys.stdout.write(_dumps(obj, indent=2) + "\n")
            sys.stdout.flush()
            return
        encoder = json.JSONEncoder(indent=2, ensure_ascii=False)
        for chunk in encoder.iterencode(_streamed_safe(obj)):
            sys.stdout.write(json_escape_controls(chunk))
        sys.stdout.write("\n")
        sys.stdout.flush()

    # --- progress ----------------------------------------------------------------------

    @contextmanager
    def progress(self, description: str) -> Iterator[ProgressCallback | None]:
        """A progress callback that drives a bar on a terminal; None in a pipe."""
        if not self.interactive:
            yield None
            return
        # Only a terminal shows a bar: pipes and scripts never pay for importing it.
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            ProgressColumn,
            Task,
            TaskID,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class BinarySpeedColumn(ProgressColumn):
            """Bytes a second in the binary units custody uses everywhere (MiB/s), where
            rich's own speed column counts in decimal ones (MB/s)."""

            def render(self, task: Task) -> Text:
                speed = task.finished_speed or task.speed
                if speed is None:
                    return Text("?", style="progress.data.speed")
                return Text(f"{_human_bytes(int(speed))}/s", style="progress.data.speed")

        bar = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TextColumn("{task.fields[files]}", markup=False),
            DownloadColumn(binary_units=True),
            BinarySpeedColumn(),
            TimeRemainingColumn(),
            console=self.err,
            transient=True,
        )
        task: TaskID | None = None
        description = visible(description)

        phase: str | None = None

        def update(event: ProgressEvent) -> None:
            nonlocal task, phase
            files = f"{event.files_done}/{event.files_total} files"
            if task is None:
                task = bar.add_task(description, total=event.bytes_total or None, files=files)
            elif event.phase != phase:
                # A new phase (an ingest's metadata after its copy): its own bar,
                # speed and time left, named after the first phase's description.
                bar.reset(
                    task,
                    total=event.bytes_total or None,
                    description=f"{description}: {event.phase}",
                )
            phase = event.phase
            bar.update(
                task, completed=event.bytes_done, total=event.bytes_total or None, files=files
            )

        with bar:
            yield update

    def out_lines(self, text: str) -> None:
        """Text of several lines (a checkpoint note), each line made visible."""
        for line in text.removesuffix("\n").split("\n"):
            self._line(line)


def _holds_streamed(obj: Any) -> bool:
    if isinstance(obj, StreamedList):
        return True
    if isinstance(obj, dict):
        return any(_holds_streamed(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_holds_streamed(v) for v in obj)
    return False


def _streamed_safe(obj: Any) -> Any:
    """json_safe, item by item: a StreamedList stays streamed, each item made
    safe as it is read (json_safe changes only the strings that hold a
    surrogate, so the document is the one _dumps would write)."""
    if isinstance(obj, StreamedList):
        return StreamedList(len(obj), lambda: (_streamed_safe(item) for item in obj))
    if isinstance(obj, dict):
        return {json_safe(k): _streamed_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_streamed_safe(v) for v in obj]
    return json_safe(obj)


def _dumps(obj: Any, *, indent: int | None) -> str:
    """JSON that can always be encoded as UTF-8 and never drives a terminal: strings
    holding bytes that are not UTF-8 are given in their visible form, and DEL, C1 and
    bidi controls are written as \\u escapes (docs/json.md)."""
    try:
        text = json.dumps(obj, indent=indent, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:  # a surrogate: a name that is not UTF-8
        text = json.dumps(json_safe(obj), indent=indent, ensure_ascii=False)
    return json_escape_controls(text)


def _longest_word(index: int, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    cells = [columns[index], *(row[index] for row in rows if index < len(row))]
    return max((len(word) for cell in cells for word in cell.split()), default=1)


def _fits(
    columns: Sequence[str], rows: Sequence[Sequence[str]], width: int, *, compact: bool = False
) -> bool:
    """Whether a table of these cells fits `width` without cutting a word: each
    column as wide as its longest word, plus a border and two spaces of padding
    (boxed), or two spaces between columns (compact)."""
    need = sum(_longest_word(i, columns, rows) for i in range(len(columns)))
    return need + _frame(columns, compact) <= width


def _frame(columns: Sequence[str], compact: bool) -> int:
    """The characters a table draws around its cells: a space either side of each
    cell, and (boxed) a line before, between and after the columns."""
    return 2 * (len(columns) - 1) if compact else 3 * len(columns) + 1


def _widths(columns: Sequence[str], rows: Sequence[Sequence[str]], room: int) -> list[int]:
    """Each column's width within `room`: its longest line when all fit, else its
    longest word and a share of what is left."""
    low = [_longest_word(i, columns, rows) for i in range(len(columns))]
    high = [
        max(
            low[i],
            *(
                len(line)
                for cell in (columns[i], *(r[i] for r in rows if i < len(r)))
                for line in cell.split("\n")
            ),
        )
        for i in range(len(columns))
    ]
    if sum(high) <= room:
        return high
    # The columns that lack least are made whole first (a time, a short name):
    # fewer cells wrap; what is left goes to the others in proportion.
    spare, wants = room - sum(low), [h - lo for h, lo in zip(high, low, strict=True)]
    extra = [0] * len(wants)
    for i in sorted(range(len(wants)), key=lambda i: wants[i]):
        if wants[i] <= spare:
            extra[i], spare = wants[i], spare - wants[i]
    rest = [i for i in range(len(wants)) if extra[i] < wants[i]]
    total = sum(wants[i] for i in rest)
    for i in rest:
        extra[i] = spare * wants[i] // total
    return [lo + e for lo, e in zip(low, extra, strict=True)]


def _labelled(label: str, value: str, label_width: int, width: int) -> list[str]:
    """'  label  value' lines, the value wrapped between words under itself; a value
    with a word too long for that goes on lines of its own, indented four."""
    import textwrap

    indent = 2 + label_width + 2

    def wrap(text: str, room: int) -> list[str]:
        return textwrap.wrap(text, room, break_long_words=False, break_on_hyphens=False)

    lines = [line for part in value.split("\n") for line in wrap(part, width - indent) or [""]]
    if all(len(line) <= width - indent for line in lines):
        head = f"  {label:<{label_width}}  "
        return [head + lines[0], *(" " * indent + line for line in lines[1:])]
    rest = [line for part in value.split("\n") for line in wrap(part, width - 4) or [""]]
    return [f"  {label}", *("    " + line for line in rest)]


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
