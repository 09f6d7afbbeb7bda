"""Everything a person or a script sees: tables, progress bars, JSON.

The only module that imports rich, and only when it is needed: on a terminal,
and for the few wide tables. Lines and label/value lists going to a pipe or a
file are written as plain text: no padding to a guessed width, and none of
rich's start-up cost on every scripted run. Rich's consoles have markup,
highlighting and emoji off so a file named '[red]x' prints as itself, and every
value passes through custody.textsafe on its way out (render._base), so nothing
from evidence can drive a terminal or crash an output.
"""

from __future__ import annotations

from .bundles import BundlesViews
from .disclosure import DisclosureViews
from .keys import KeysViews
from .ledger import LedgerViews
from .media import MediaViews
from .store import StoreViews
from .team import TeamViews
from .verify_many import VerifyManyViews


class Renderer(
    BundlesViews,
    KeysViews,
    MediaViews,
    LedgerViews,
    TeamViews,
    StoreViews,
    VerifyManyViews,
    DisclosureViews,
):
    """Every view custody has, over one set of output channels (render._base.Output)."""


__all__ = ["Renderer"]
