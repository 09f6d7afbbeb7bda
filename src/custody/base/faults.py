"""Named points in long operations where the crash tests stop the process.

With CUSTODY_STOP_AT=<point> in its environment, a custody process that reaches that
point stops itself (SIGSTOP) so that a test can kill it with SIGKILL exactly there and
check what the next command makes of the remains. Without the variable it does nothing.
This is how tests/integration/test_interrupted.py ties a kill -9 to an ingest's progress instead of
to a guess at its timing.
"""

from __future__ import annotations

import os
import signal

POINTS = ("copied", "recorded", "written", "renamed")


def reached(point: str) -> None:
    """Stop here when the environment asks for this point."""
    if os.environ.get("CUSTODY_STOP_AT") == point:
        os.kill(os.getpid(), signal.SIGSTOP)
