"""The grader's record of one submission's run: each cell's result, the notes, and checks on what the kernel sends.

`graders.sandbox.runner` drives the kernel; this module decides what a `done` frame
means for the `Execution`: the cell's status and outputs, display updates to earlier
cells (nbclient's rule), notes for a TA and the student (a cell timed out, output
left out), and the output limits checked again on this side of the wall, since
student code shares the process that sizes its outputs. When a runaway cell's fork
is killed, the cells that completed before it run again in a fresh fork: this record
keeps their first results and says which cells that fork must skip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graders.contract import CellRun, CellStatus, Execution, JobFile, Limits, timed_out
from graders.sandbox import wire
from graders.sandbox.capture import OVER_ROOM_BYTES, json_size, left_out, limit_bytes, mib

COMPLETED = (CellStatus.OK, CellStatus.ERROR)  # a cell that ended by itself: it runs again after a restart


@dataclass
class RunRecord:
    """One submission's cells ((notebook index, source), in order) and what became of them."""

    cells: list[tuple[int, str]]
    limits: Limits
    files: tuple[JobFile, ...]  # the job's files, placed anew in every fork
    labels: dict[int, str]  # index -> grade id
    deadline: float  # time.monotonic() at which the whole run stops
    execution: Execution
    environment: dict[str, str] = field(default_factory=dict)  # added to the code's environment variables
    _dropped: set[int] = field(default_factory=set, init=False)  # ran away as it ran again: not run any more
    _current: CellRun | None = field(default=None, init=False)
    _replaying: bool = field(default=False, init=False)
    _displays: dict[str, list[tuple[int, int]]] = field(default_factory=dict, init=False)  # id -> (cell, output)
    _output_bytes: int = field(default=0, init=False)
    _cells_done: int = field(default=0, init=False)
    _notebook_capped: bool = field(default=False, init=False)

    def skipped(self, index: int) -> bool:
        """Whether a fork must not run this cell: it timed out, or ran away when it ran again."""
        return index in self._dropped or self.execution.cells[index].status == CellStatus.TIMED_OUT

    def pending(self) -> bool:
        """Whether some cell has yet to run."""
        return any(self.execution.cells[i].status == CellStatus.NOT_RUN and not self.skipped(i) for i, _ in self.cells)

    def start(self, index: int) -> CellRun:
        """The result to fill while cell `index` runs: its own, or a throwaway one when it runs again."""
        run = self.execution.cells[index]
        self._replaying = run.status in COMPLETED
        self._current = CellRun() if self._replaying else run
        self._current.status = CellStatus.RUNNING
        return self._current

    def finish(self, index: int, message: dict) -> None:
        """Cell `index` ended: its `done` frame from the kernel (untrusted)."""
        outputs = message.get("outputs")
        if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
            raise wire.ProtocolError("cell result without outputs")
        result = self._current
        status = message.get("status")
        result.status = CellStatus(status) if status in (CellStatus.ERROR, CellStatus.TIMED_OUT) else CellStatus.OK
        seconds = message.get("seconds", 0.0)
        if not isinstance(seconds, (int, float)):
            raise wire.ProtocolError("cell result with a bad duration")
        result.seconds = float(seconds)
        if self._replaying:
            return
        updates = message.get("updates") if isinstance(message.get("updates"), dict) else {}
        size = json_size([outputs, updates])
        self._cells_done += 1
        if size is None or size > wire.MAX_CELL_OUTPUT_BYTES + OVER_ROOM_BYTES or \
                self._output_bytes + size > wire.MAX_NOTEBOOK_OUTPUT_BYTES + OVER_ROOM_BYTES * self._cells_done:
            # Honest kernels never get here: the cell's code tampered with how outputs are kept.
            outputs, size = [_stderr("[output limit: this cell's outputs were left out]\n")], 0
            self._note(index, "sent more output than a cell may keep; its outputs were left out of the graded notebook")
        else:
            self._update_displays(index, outputs, message.get("display_ids"), updates)
        self._output_bytes += size
        result.outputs = outputs
        if result.status == CellStatus.TIMED_OUT:
            self._note_timeout(index)
        self._note_capped(index, message.get("capped"))

    def ran_away(self, index: int) -> None:
        """Cell `index` did not stop when interrupted: its fork is being killed."""
        if self._replaying:
            self._dropped.add(index)
            self._note(index, "did not stop when interrupted as it ran again; the cells after it ran without it")
            return
        result = self.execution.cells[index]
        result.status = CellStatus.TIMED_OUT
        reason = timed_out(self.limits.cell_timeout_s)
        result.outputs.append({"output_type": "error", "ename": "CellTimeoutError", "evalue": reason, "traceback": [
            f"CellTimeoutError: {reason}; it did not stop when interrupted, so the grader ended it"]})
        self._note_timeout(index)

    def restart_after(self, index: int) -> None:
        """A fresh fork is about to run again the cells that completed before runaway cell `index`."""
        again = sum(1 for i, _ in self.cells
                    if i < index and not self.skipped(i) and self.execution.cells[i].status in COMPLETED)
        self._note(index, f"did not stop when interrupted, so its sandbox was restarted: the {again} "
                          f"cell{'s' * (again != 1)} before it ran again (their first results stand), "
                          "then the cells after it")

    # --- how -----------------------------------------------------------------------------

    def _update_displays(self, index: int, outputs: list[dict], display_ids: object, updates: dict) -> None:
        """nbclient's rule: an update shows new data in every output of its display id, in earlier cells too."""
        for display_id, update in updates.items():
            if isinstance(update, dict) and isinstance(update.get("data"), dict) \
                    and isinstance(update.get("metadata"), dict):
                for cell, at in self._displays.get(display_id, []):
                    self.execution.cells[cell].outputs[at].update(data=update["data"], metadata=update["metadata"])
        for display_id, positions in (display_ids.items() if isinstance(display_ids, dict) else ()):
            for at in positions if isinstance(positions, list) else ():
                if isinstance(at, int) and 0 <= at < len(outputs) and \
                        outputs[at].get("output_type") in ("display_data", "execute_result"):
                    self._displays.setdefault(display_id, []).append((index, at))

    def _note_timeout(self, index: int) -> None:
        self._note(index, f"timed out after {self.limits.cell_timeout_s:g} s (the limit for one cell) and was stopped")

    def _note_capped(self, index: int, capped: object) -> None:
        if not _well_formed_capped(capped):
            return
        if capped["limit"] == "cell":
            self._note(index, f"produced more output than the {mib(limit_bytes('cell'))} a cell keeps: "
                              f"{left_out(capped)} {'was' if _one(capped) else 'were'} left out of the graded notebook")
        elif not self._notebook_capped:
            self._notebook_capped = True
            self.execution.notes.append(
                f"The notebook produced more output than the {mib(limit_bytes('notebook'))} it keeps: from "
                f"{self._label(index)} on, output was left out of the graded notebook.")

    def _note(self, index: int, sentence: str) -> None:
        label = self._label(index)
        self.execution.notes.append(f"{label[0].upper()}{label[1:]} {sentence}.")

    def _label(self, index: int) -> str:
        gid = self.labels.get(index)
        return f"cell {gid}" if gid else f"cell {index + 1}"


def _one(capped: dict) -> bool:
    """Whether `left_out(capped)` names a single thing (for the verb)."""
    return capped["outputs"] + capped["updates"] + bool(capped["text_bytes"]) == 1 and capped["outputs"] < 2


def _well_formed_capped(capped: object) -> bool:
    return isinstance(capped, dict) and capped.get("limit") in ("cell", "notebook") and all(
        isinstance(capped.get(key), int) and capped[key] >= 0 for key in ("outputs", "updates", "text_bytes")) \
        and isinstance(capped.get("kinds"), list) and len(capped["kinds"]) <= 10 \
        and all(isinstance(kind, str) and len(kind) <= 100 for kind in capped["kinds"])


def _stderr(text: str) -> dict:
    return {"output_type": "stream", "name": "stderr", "text": text}

