"""A cell's outputs are kept within the output limits, each kind of output, with one note for what is left out."""

from __future__ import annotations

import json

from graders.contract import CellStatus
from graders.sandbox import wire
from graders.sandbox.capture import OVER_ROOM_BYTES, CellCapture, NotebookOutputs
from graders.sandbox.kernel import _done_frame

CELL = wire.MAX_CELL_OUTPUT_BYTES


def _html(size: int) -> dict:
    return {"text/html": "h" * size, "text/plain": "<HTML>"}


def _size(capture: CellCapture) -> int:
    return len(json.dumps([capture.outputs, capture.updates]))


def test_printed_text_is_kept_up_to_the_cell_limit_then_counted_in_a_note_after_it() -> None:
    capture = CellCapture(1, NotebookOutputs())
    for _ in range(5):
        capture.add_stream("stdout", "x" * (1 << 20))
    capture.finish()
    kept, note = capture.outputs
    assert kept["text"] == "x" * len(kept["text"]) and CELL - 100 < len(kept["text"]) < CELL
    assert note == {"output_type": "stream", "name": "stderr",
                    "text": "\n[output limit: 3 MiB of text left out here; a cell keeps at most 2 MiB of output]\n"}
    assert _size(capture) <= CELL + OVER_ROOM_BYTES


def test_a_display_over_the_limit_is_left_out_and_smaller_outputs_after_it_are_kept() -> None:
    capture = CellCapture(1, NotebookOutputs())
    capture.add_display(_html(1 << 20), {}, result=False)
    capture.add_display({"image/png": "i" * (3 << 20), "text/plain": "<Figure>"}, {}, result=False)
    capture.add_display(_html(1 << 20), {}, result=False)
    capture.add_stream("stdout", "done\n")
    capture.finish()
    kinds = [o["output_type"] for o in capture.outputs]
    assert kinds == ["display_data", "stream", "stream"]
    assert capture.outputs[1]["text"] == ("\n[output limit: 2 outputs (image/png, text/html) left out here; "
                                          "a cell keeps at most 2 MiB of output]\n")
    assert capture.outputs[2]["text"] == "done\n"
    assert capture.capped() == {"limit": "cell", "outputs": 2, "kinds": ["image/png", "text/html"], "updates": 0,
                                "text_bytes": 0}


def test_a_display_updated_many_times_is_one_output_with_the_last_data() -> None:
    capture = CellCapture(1, NotebookOutputs())
    capture.add_display(_html(10), {}, result=False, display_id="progress")
    for step in range(10_000):
        capture.add_display({"text/html": f"step {step}" + "." * 1000}, {}, result=False, display_id="progress",
                            update=True)
    capture.finish()
    [output] = capture.outputs
    assert output["data"]["text/html"].startswith("step 9999.")
    assert capture.display_ids == {"progress": [0]} and capture.capped() is None


def test_an_update_of_a_display_from_an_earlier_cell_travels_with_this_cell() -> None:
    notebook = NotebookOutputs()
    first = CellCapture(1, notebook)
    first.add_display(_html(10), {}, result=False, display_id="plot")
    first.finish()
    second = CellCapture(2, notebook)
    second.add_display({"text/plain": "new"}, {}, result=False, display_id="plot", update=True)
    second.add_display({"text/plain": "ignored"}, {}, result=False, display_id="never shown", update=True)
    second.finish()
    assert second.outputs == [] and second.updates == {"plot": {"data": {"text/plain": "new"}, "metadata": {}}}


def test_clear_output_wait_clears_just_before_the_next_output() -> None:
    capture = CellCapture(1, NotebookOutputs())
    for frame in range(100):
        capture.clear_output(wait=True)
        capture.add_display({"image/png": f"frame {frame}", "text/plain": "<Figure>"}, {}, result=False)
    capture.clear_output(wait=True)
    capture.finish()
    assert [o["data"]["image/png"] for o in capture.outputs] == ["frame 99"]


def test_data_that_is_not_plain_json_is_dropped_and_the_rest_kept() -> None:
    capture = CellCapture(1, NotebookOutputs())
    capture.add_display({"application/json": {"a": float("nan")}, "image/png": b"bytes", "text/plain": "{...}"},
                        {"broken": object()}, result=True)
    capture.finish()
    assert capture.outputs == [{"output_type": "execute_result", "data": {"text/plain": "{...}"}, "metadata": {},
                                "execution_count": 1}]


def test_the_first_error_is_kept_short_when_no_room_is_left_and_a_second_one_is_left_out() -> None:
    capture = CellCapture(1, NotebookOutputs())
    capture.add_stream("stdout", "x" * CELL)
    capture.add_error(ValueError, ValueError("v" * 5000), ["frame " * 500] * 30)
    capture.add_error(KeyError, KeyError("k"), ["frame"])
    capture.finish()
    error = next(o for o in capture.outputs if o["output_type"] == "error")
    assert error == {"output_type": "error", "ename": "ValueError", "evalue": "v" * 200, "traceback": []}
    assert capture.errored and capture.capped()["outputs"] == 1
    assert _size(capture) <= CELL + OVER_ROOM_BYTES


def test_the_notebook_limit_shrinks_the_room_of_the_cells_after_it() -> None:
    notebook = NotebookOutputs()
    sizes = []
    for count in range(10):
        capture = CellCapture(count, notebook)
        capture.add_display(_html(2_000_000), {}, result=False)
        capture.finish()
        sizes.append(_size(capture))
    assert sum(sizes) <= wire.MAX_NOTEBOOK_OUTPUT_BYTES + 10 * OVER_ROOM_BYTES
    assert capture.limit == "notebook" and capture.outputs[0]["text"] == (
        "\n[output limit: 1 output (text/html) left out here; a notebook keeps at most 16 MiB of output]\n")


def test_a_done_frame_is_always_within_the_wire_limit() -> None:
    capture = CellCapture(1, NotebookOutputs())
    capture.add_display(_html(1_500_000), {}, result=False)
    capture.outputs.append({"output_type": "stream", "name": "stdout", "text": "t" * (40 << 20)})  # tampered with
    frame = _done_frame(capture, CellStatus.OK, 0.1)
    assert len(frame) < 1 << 20
    assert json.loads(frame[4:])["outputs"][0]["text"].startswith("[output limit: this cell's outputs could not")
