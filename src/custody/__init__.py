"""custody: a chain of custody for digital evidence.

The public library API lives in the modules named in docs/; everything the
command line does is a call to one of these functions.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
