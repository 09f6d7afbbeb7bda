"""Named points in long operations where the crash tests stop the process.

With CUSTODY_STOP_AT=<point> in its environment, a custody process that reaches that
point stops itself (SIGSTOP) so that a test can kill it with SIGKILL exactly there and
check what the next command makes of the remains. Without the variable it does nothing.
This is how tests/integration/test_interrupted.py ties a kill -9 to an ingest's progress instead of
to a guess at its timing.
"""

from __future__ import annotations

import errno
import os
import signal
import time

POINTS = ("copied", "recorded", "written", "renamed")


def reached(point: str) -> None:
    """Stop here when the environment asks for this point."""
    if os.environ.get("CUSTODY_STOP_AT") == point:
        os.kill(os.getpid(), signal.SIGSTOP)


def file_copied(rel: str, done: int) -> None:
    """After each file an ingest copies: with CUSTODY_COPY_LOG=<file>, its path is
    appended there (the tests count copies across a kill and a resume); with
    CUSTODY_STOP_AFTER_FILES=<n>, the process stops itself after the n-th copy;
    with CUSTODY_DISK_FULL_AFTER_FILES=<n>, the write after the n-th copy fails as
    on a full disk (ENOSPC), where no small file system can be mounted."""
    log = os.environ.get("CUSTODY_COPY_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(rel + "\n")
    if os.environ.get("CUSTODY_DISK_FULL_AFTER_FILES") == str(done):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), rel)
    if os.environ.get("CUSTODY_STOP_AFTER_FILES") == str(done):
        os.kill(os.getpid(), signal.SIGSTOP)
        # The caller holds the journal's lock: hold it a moment longer, so that no other
        # copy thread journals a file between this one's kill and the stop taking
        # effect (the tests compare the journal with this log after a kill -9).
        time.sleep(0.5)
