"""Everything a person or a script sees: tables, progress bars, JSON.

The only module that imports rich, and only when it is needed: on a terminal,
and for the few wide tables. Lines and label/value lists going to a pipe or a
file are written as plain text: no padding to a guessed width, and none of
rich's start-up cost on every scripted run. Rich's consoles have markup,
highlighting and emoji off so a file named '[red]x' prints as itself, and every
value passes through custody.base.textsafe on its way out (render._base), so nothing
from evidence can drive a terminal or crash an output.
"""

from __future__ import annotations

from custody.render.bundles import BundlesViews
from custody.render.disclosure import DisclosureViews
from custody.render.intake import IntakeViews
from custody.render.keys import KeysViews
from custody.render.ledger import LedgerViews
from custody.render.media import MediaViews
from custody.render.media_stream import MediaStreamViews
from custody.render.scope import ScopeViews
from custody.render.similar import SimilarViews
from custody.render.store import StoreViews
from custody.render.team import TeamViews
from custody.render.verify_many import VerifyManyViews


class Renderer(
    BundlesViews,
    KeysViews,
    MediaViews,
    MediaStreamViews,
    LedgerViews,
    TeamViews,
    StoreViews,
    VerifyManyViews,
    ScopeViews,
    SimilarViews,
    IntakeViews,
    DisclosureViews,
):
    """Every view custody has, over one set of output channels (render._base.Output)."""


__all__ = ["Renderer"]
