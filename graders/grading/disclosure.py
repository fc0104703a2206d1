"""What feedback may say about a test cell's run: decided here, on the trusted side, from what the grader sent.

Student code runs inside test cells (the tests call it). Once a cell with hidden
tests has run, anything the kernel produces may carry the hidden inputs, seeds or
test source: student code reads them through the call stack, the globals the
hidden code left behind or IPython's history, and puts them into an exception
message, a printout, a value or a later cell's error. So every test cell from the
first one with hidden tests on is *restricted*: its feedback says which test
failed, that an exception was raised, the exception's type when it is one of
Python's built-in exceptions (a class of the student's own can carry data in its
name), and the student's own cells and lines in the traceback, each checked
against the cells the grader sent; a probe's message says the kind of failure and
what the key fixes for every student (the expected shape, say), never what the
student's code computed (graders.grading.verdict). Test cells that ran before any
hidden code keep their full messages: the exception's text too.

Feedback also says pass or fail per test and a fixed phrase for a failure; those few
bits per test and per submission are what any autograder's feedback tells.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass

from nbformat import NotebookNode

from graders import cells
from graders.contract import CellRun
from graders.grading.messages import Message

HIDDEN_TESTS_BEGIN = "BEGIN HIDDEN TESTS"  # nbgrader's ClearHiddenTests.begin_test_delimeter, by default
MAX_FRAMES = 3  # of the student's own frames shown, innermost last
BUILTIN_EXCEPTIONS = frozenset(name for name, value in vars(builtins).items()
                               if isinstance(value, type) and issubclass(value, BaseException))
_CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")  # how IPython names a cell in a traceback
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def hidden_tests_marker(config) -> str:  # noqa: ANN001 - a traitlets Config
    """The line that starts hidden tests in this course (nbgrader's `ClearHiddenTests.begin_test_delimeter`)."""
    return str(config.ClearHiddenTests.get("begin_test_delimeter", HIDDEN_TESTS_BEGIN))


@dataclass(frozen=True)
class Disclosure:
    """For one prepared notebook: where hidden tests start, and the student's code cells by IPython's count."""

    first_hidden: int | None  # notebook index of the first code cell with hidden tests; None: none
    # IPython execution count -> (the cell's grade id, else None; its number among code cells; its lines)
    student_cells: dict[int, tuple[str | None, int, int]]

    @classmethod
    def of(cls, notebook: NotebookNode, marker: str = HIDDEN_TESTS_BEGIN) -> "Disclosure":
        """Read `notebook` (prepared: instructor tests, student cells) as the runner will run it."""
        first_hidden, student, count, number = None, {}, 0, 0
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            number += 1
            if first_hidden is None and cells.grade_id(cell) and not cells.is_solution(cell) \
                    and any(marker in line for line in cell.source.splitlines()):
                first_hidden = index
            if not cell.source.strip():  # IPython does not count a blank cell
                continue
            count += 1
            if not (cells.grade_id(cell) and not cells.is_solution(cell)):  # not an instructor cell
                student[count] = (cells.grade_id(cell), number, len(cell.source.splitlines()))
        return cls(first_hidden, student)

    def restricted(self, index: int) -> bool:
        """Whether the cell at notebook `index` ran at or after hidden test code."""
        return self.first_hidden is not None and index >= self.first_hidden

    def describe_error(self, index: int, run: CellRun) -> Message | None:
        """The exception the cell at `index` ended with, as feedback may show it; None when it raised none.

        "your code raised TypeError in cell `mlp`, line 12: unsupported operand" (the text only before
        hidden code ran), naming the student's own cells of the traceback, innermost last.
        """
        error = next((o for o in run.outputs if o.get("output_type") == "error"), None)
        if error is None:
            return None
        ename = str(error.get("ename", ""))
        where = self._student_frames(error.get("traceback"))
        if not self.restricted(index):
            text = str(error.get("evalue", ""))[:200]
            if where:
                return Message("your code raised {error} in {where}: {text}", error=ename, where=where, text=text) \
                    if text else Message("your code raised {error} in {where}", error=ename, where=where)
            return Message("{error}: {text}", error=ename, text=text) if text \
                else Message("{error} raised", error=ename)
        if ename not in BUILTIN_EXCEPTIONS:  # a class of the student's own can carry data in its name
            return Message("your code raised an exception in {where}", where=where) if where \
                else Message("an exception was raised")
        return Message("your code raised {error} in {where}", error=ename, where=where) if where \
            else Message("{error} raised", error=ename)

    def _student_frames(self, traceback: object) -> list[Message]:
        """Each frame of the traceback in a student's cell, as "cell `mlp`, line 12": only cells and lines that
        exist."""
        found: list[tuple[int, int]] = []
        for entry in traceback if isinstance(traceback, list) else []:
            for count, line in _CELL_FRAME.findall(_ANSI.sub("", str(entry))):
                cell = self.student_cells.get(int(count))
                if cell is not None and 1 <= int(line) <= cell[2]:
                    frame = (int(count), int(line))
                    if frame in found:
                        found.remove(frame)
                    found.append(frame)
        return [self._frame(*frame) for frame in found[-MAX_FRAMES:]]

    def _frame(self, count: int, line: int) -> Message:
        grade_id, number, _ = self.student_cells[count]
        return Message("cell `{cell}`, line {line}", cell=grade_id, line=line) if grade_id \
            else Message("code cell {number}, line {line}", number=number, line=line)
