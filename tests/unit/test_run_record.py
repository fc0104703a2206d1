"""The grader's record of a run: cells that run again after a restart keep their first results,
display updates reach earlier cells, and a kernel that breaks the output limits loses its outputs."""

from __future__ import annotations

import pytest

from graders.contract import CellRun, CellStatus, Execution, Limits
from graders.sandbox import wire
from graders.sandbox.record import RunRecord

CELLS = [(0, "setup"), (2, "slow"), (3, "after")]


def _record() -> RunRecord:
    return RunRecord(CELLS, Limits(cell_timeout_s=2), {}, {2: "test_slow"}, deadline=0.0,
                     execution=Execution(cells={index: CellRun() for index, _ in CELLS}))


def _done(outputs: list[dict] | None = None, status: str = "ok", **extra: object) -> dict:
    return {"op": "done", "outputs": outputs or [], "status": status, "seconds": 0.5, **extra}


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _run(record: RunRecord, index: int, message: dict) -> CellRun:
    run = record.start(index)
    record.finish(index, message)
    return run


def test_after_a_runaway_the_cells_before_it_run_again_and_keep_their_first_results() -> None:
    record = _record()
    _run(record, 0, _done([_stream("first run")]))
    record.start(2)
    record.ran_away(2)
    assert record.execution.cells[2].status == CellStatus.TIMED_OUT
    assert record.execution.cells[2].outputs[0]["ename"] == "CellTimeoutError"
    assert record.pending() and [i for i, _ in CELLS if not record.skipped(i)] == [0, 3]
    record.restart_after(2)
    again = _run(record, 0, _done([_stream("second run")]))
    assert again is not record.execution.cells[0]
    assert record.execution.cells[0].outputs == [_stream("first run")]
    _run(record, 3, _done([_stream("after")]))
    assert not record.pending()
    assert record.execution.notes == [
        "Cell test_slow timed out after 2 s (the limit for one cell) and was stopped.",
        ("Cell test_slow did not stop when interrupted, so its sandbox was restarted: the 1 cell before it ran again "
        "(their first results stand), then the cells after it.")]


def test_a_cell_that_runs_away_when_it_runs_again_is_skipped_from_then_on() -> None:
    record = _record()
    _run(record, 0, _done(status="error"))
    record.start(2)
    record.ran_away(2)
    record.start(0)  # runs again, and now never ends
    record.ran_away(0)
    assert record.execution.cells[0].status == CellStatus.ERROR  # its first result stands
    assert record.skipped(0) and record.pending()
    assert record.execution.notes[-1] == "Cell 1 did not stop when interrupted as it ran again; the cells after it " \
                                         "ran without it."


def test_a_display_update_from_a_later_cell_changes_the_earlier_output() -> None:
    record = _record()
    shown = {"output_type": "display_data", "data": {"text/plain": "0%"}, "metadata": {}}
    _run(record, 0, _done([shown], display_ids={"bar": [0], "bad": [7, "x"]}))
    _run(record, 2, _done(updates={"bar": {"data": {"text/plain": "100%"}, "metadata": {}}, "bad": "junk"}))
    assert record.execution.cells[0].outputs[0]["data"] == {"text/plain": "100%"}


def test_a_cell_over_the_output_limit_loses_its_outputs_on_this_side_too() -> None:
    record = _record()
    run = _run(record, 2, _done([_stream("x" * (wire.MAX_CELL_OUTPUT_BYTES + (1 << 20)))]))
    assert run.outputs == [{"output_type": "stream", "name": "stderr",
                            "text": "[output limit: this cell's outputs were left out]\n"}]
    assert record.execution.notes == [
        "Cell test_slow sent more output than a cell may keep; its outputs were left out of the graded notebook."]


def test_what_the_kernel_left_out_becomes_a_note_naming_the_cell() -> None:
    record = _record()
    _run(record, 2, _done(capped={"limit": "cell", "outputs": 16, "kinds": ["image/png"], "updates": 0,
                                  "text_bytes": 3 << 20}))
    _run(record, 3, _done(capped={"limit": "notebook", "outputs": 1, "kinds": [], "updates": 0, "text_bytes": 0}))
    _run(record, 0, _done(capped={"limit": "notebook", "outputs": "many"}))  # malformed: no note
    assert record.execution.notes == [
        ("Cell test_slow produced more output than the 2 MiB a cell keeps: 16 outputs (image/png) and 3 MiB of text "
        "were left out of the graded notebook."),
        ("The notebook produced more output than the 16 MiB it keeps: from cell 4 on, output was left out of the "
        "graded notebook.")]


@pytest.mark.parametrize("message", [_done(outputs="none"), _done(seconds="soon"), {"op": "done"}])
def test_a_malformed_cell_result_is_a_protocol_violation(message: dict) -> None:
    record = _record()
    record.start(0)
    with pytest.raises(wire.ProtocolError):
        record.finish(0, message)
