"""A click command that remembers the order its options were given in.

click gathers each repeated option into a tuple and forgets how they were
interleaved; `custody disclose --withhold A --basis X --withhold B --basis Y`
needs it (each --withhold takes the --basis given after it)."""

from __future__ import annotations

from typing import Any

import click

ORDER = "custody.option_order"


class OrderedCommand(click.Command):
    """Stores, in ctx.meta[ORDER], the parameter name of each option as given."""

    def make_parser(self, ctx: click.Context) -> Any:
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_args(args: list[str]) -> Any:
            opts, rest, order = parse(args=args)
            ctx.meta[ORDER] = [p.name for p in order]
            return opts, rest, order

        parser.parse_args = parse_args  # type: ignore[method-assign]
        return parser


def option_order(ctx: click.Context) -> list[str]:
    """The parameter names of the options given, one per occurrence, in order."""
    return list(ctx.meta.get(ORDER, []))
