"""The kernel's per-cell timer, in this process: a cell past its limit is interrupted where the student's code is."""

from __future__ import annotations

import sys

import pytest

from graders.contract import CellStatus
from graders.sandbox import kernel
from graders.sandbox.capture import NotebookOutputs

LIMIT_S = 0.3


@pytest.fixture(scope="module")
def shell():
    return kernel._warm_up([])


@pytest.fixture
def run(shell, monkeypatch):
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # run_cell points them at the cell's capture
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    return lambda source: kernel.run_cell(shell, source, LIMIT_S, NotebookOutputs())


@pytest.mark.parametrize("source, last_line", [
    ("def spin():\n    while True:\n        pass\nspin()", "in spin()"),
    ("import time\ntime.sleep(60)", "----> 2 time.sleep(60)"),
])
def test_a_cell_past_its_limit_ends_with_a_timeout_error_at_the_students_line(run, source, last_line) -> None:
    cell, status = run(source)
    assert status == CellStatus.TIMED_OUT
    [error] = cell.outputs
    assert (error["ename"], error["evalue"]) == ("CellTimeoutError", "cell timed out after 0.3 s")
    assert last_line in error["traceback"][-2] and "kernel.py" not in "".join(error["traceback"])


def test_except_exception_does_not_stop_the_interrupt(run) -> None:
    cell, status = run("try:\n    while True:\n        pass\nexcept Exception:\n    print('caught')")
    assert status == CellStatus.TIMED_OUT and [o["output_type"] for o in cell.outputs] == ["error"]


def test_a_cell_that_catches_the_interrupt_still_timed_out(run) -> None:
    cell, status = run("import time\ntry:\n    time.sleep(60)\nexcept BaseException as e:\n    print(type(e).__name__)")
    assert status == CellStatus.TIMED_OUT and cell.outputs[0]["text"] == "CellTimeoutError\n"


def test_a_cell_within_its_limit_is_not_interrupted_and_the_timer_is_off_after_it(run) -> None:
    cell, status = run("import time\ntime.sleep(0.1)\nprint('done')")
    assert status == CellStatus.OK and cell.outputs[0]["text"] == "done\n"
    _, status = run("import signal\nsignal.getitimer(signal.ITIMER_REAL)")
    assert status == CellStatus.OK
    assert kernel.signal.getitimer(kernel.signal.ITIMER_REAL) == (0.0, 0.0)
