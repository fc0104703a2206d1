"""Fault injection for the crash tests: the coordinator kills itself at a named point of its write path.

`GRADERS_CRASH_AT=<point>` makes the process SIGKILL itself when it reaches `crash_point(<point>)`, with no
clean-up at all, as a power cut or the OOM killer would; unset, a crash point costs one environment lookup.
tests/integration/test_crash_consistency.py kills a class run and the hub's grading queue at each point.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "GRADERS_CRASH_AT"

# Every point, in the order one class run reaches them.
POINTS = (
    "planned",  # the run and its queued jobs are committed; nothing dispatched
    "dispatched",  # the jobs are with the runners (Dask tasks submitted)
    "result",  # an attempt's result arrived at the coordinator; nothing of it written
    "attempt_written",  # its attempt row is flushed, in the result's transaction
    "job_written",  # the job's final state, score and notes too
    "grades_written",  # nbgrader's grades and the late penalty too
    "notebook_written",  # the autograded notebook is on disk; the transaction is not committed
    "committed",  # the result's transaction is committed
)


def crash_point(name: str) -> None:
    """SIGKILL this process if $GRADERS_CRASH_AT names this point."""
    assert name in POINTS, name
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
