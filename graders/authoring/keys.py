"""Answer keys: the values the instructor solution emits in each test cell, with their options.

Keys are made at `graders generate` by running the source notebook in the same
kind of kernel that grades students, and stored under `keys/<hw>/` in the course
(git-ignored, never mounted in a sandbox). The options a probe was emitted with
are taken from the instructor run only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from graders import cells
from graders.contract import CellStatus, Execution
from graders.errors import UserError
from graders.grading.verdict import judge_assert
from graders.sandbox.values import decode

KEY_FORMAT = 1


class InvalidKey(UserError, ValueError):
    """The instructor solution cannot produce a valid key (a failing test, a bad probe)."""


@dataclass
class NotebookKey:
    """grade_id -> the probes that test cell must emit, in order."""

    notebook: str
    tests: dict[str, list[dict]]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"format": KEY_FORMAT, "notebook": self.notebook, "tests": self.tests},
                                   indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> "NotebookKey":
        data = json.loads(path.read_text())
        if data.get("format") != KEY_FORMAT:
            raise InvalidKey(f"{path}: key format {data.get('format')} (expected {KEY_FORMAT}); regenerate")
        return cls(data["notebook"], data["tests"])


def build_key(name: str, notebook: NotebookNode, execution: Execution, ignore_stderr: str = "") -> NotebookKey:
    """Collect the instructor run's probes per test cell, refusing a run that a student could not pass:
    a test cell that fails, or an assert-style one (no probes) that nbgrader's rule would not give full points."""
    if execution.failed:
        raise InvalidKey(f"{name}: the instructor solution did not run to the end ({execution.reason})")
    slow = [index for index, run in sorted(execution.cells.items()) if run.status == CellStatus.TIMED_OUT]
    if slow:
        cell = notebook.cells[slow[0]]
        raise InvalidKey(f"{name}: cell {cells.grade_id(cell) or slow[0] + 1} of the instructor solution timed out: "
                         "raise cell_timeout_s in homework.toml")
    tests: dict[str, list[dict]] = {}
    seen: set[str] = set()
    for index, cell in enumerate(notebook.cells):
        if not cells.is_autograded_test(cell):
            continue
        gid = cells.grade_id(cell)
        run = execution.cells[index]
        if run.status != CellStatus.OK:
            error = next((o for o in run.outputs if o.get("output_type") == "error"), {})
            raise InvalidKey(f"{name}: the instructor solution fails test cell {gid}: "
                            f"{error.get('ename', '?')}: {error.get('evalue', '')}")
        probes = []
        for record in run.probes:
            probe_name = record["name"]
            if probe_name in seen:
                raise InvalidKey(f"{name}: probe {probe_name!r} is emitted more than once")
            seen.add(probe_name)
            _check_bounds(name, probe_name, record)
            probes.append({"name": probe_name, "value": record["value"], "options": record["options"]})
        if not probes:
            verdict = judge_assert(gid, cells.points(cell), run, ignore_stderr=ignore_stderr)
            if verdict.score < verdict.max_points:
                raise InvalidKey(f"{name}: the instructor solution earns {verdict.score:g}/{verdict.max_points:g} "
                                 f"on test cell {gid} ({verdict.message})")
        tests[gid] = probes
    return NotebookKey(name, tests)


def _check_bounds(name: str, probe_name: str, record: dict) -> None:
    low, high = record["options"].get("min"), record["options"].get("max")
    if low is None and high is None:
        return
    value = decode(record["value"])
    if not isinstance(value, (int, float)) or (low is not None and value < low) or \
            (high is not None and value > high):
        raise InvalidKey(f"{name}: the instructor solution's {probe_name} = {value!r} "
                        f"is outside its own bounds [{low}, {high}]")
