"""The trusted verdict: compare what a submission emitted with the answer key, award points.

Runs in the grader process, outside any sandbox, on decoded plain data. A test
cell's points are split between its probes by weight; a probe that is missing,
emitted twice, malformed or wrong earns nothing, and nothing else is affected.
Messages tell the student what went wrong without the expected value; for a test
cell that ran at or after hidden test code (`restricted`, see
graders.grading.disclosure) they are fixed phrases, never the student's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graders.contract import CellRun, CellStatus
from graders.sandbox.values import decode

# Written here, not read from the run: the cell's own error text comes from the sandbox.
TIMED_OUT_MESSAGE = "cell timed out (stopped at the homework's limit for one cell)"


@dataclass
class ProbeVerdict:
    name: str
    passed: bool
    weight: float
    message: str


@dataclass
class CellVerdict:
    """The score of one graded cell and why."""

    grade_id: str
    max_points: float
    score: float | None  # None: waits for a person (manual question)
    kind: str  # "probes" | "assert" | "manual"
    probes: list[ProbeVerdict] = field(default_factory=list)
    message: str = ""


def judge_probes(grade_id: str, max_points: float, key: list[dict], run: CellRun, *,
                 error: str | None = None, restricted: bool = False) -> CellVerdict:
    """Score a test cell from the probes it emitted, against its key.

    `error`: the cell's exception as feedback may show it (Disclosure.describe_error); `restricted`:
    the cell ran at or after hidden test code, so messages carry nothing the run computed.
    """
    emitted: dict[str, list[dict]] = {}
    # A cell stopped at its time limit scores 0, whatever it emitted before (issue 13, item 1).
    for record in run.probes if run.status != CellStatus.TIMED_OUT else []:
        emitted.setdefault(str(record.get("name")), []).append(record)
    verdicts = [_judge_one(expected, emitted.get(expected["name"], []), run, error, restricted) for expected in key]
    total = sum(v.weight for v in verdicts)
    earned = sum(v.weight for v in verdicts if v.passed)
    score = round(max_points * earned / total, 6) if total else 0.0
    return CellVerdict(grade_id, max_points, score, "probes", verdicts)


def judge_assert(grade_id: str, max_points: float, run: CellRun, *, error: str | None = None) -> CellVerdict:
    """nbgrader's rule for plain assert-style tests: full points if the cell ran without error.

    Weaker than probes: student code in the same kernel can make such a cell pass. `error`: the cell's
    exception as feedback may show it (Disclosure.describe_error).
    """
    passed = run.status == CellStatus.OK
    if passed:
        message = "passed"
    elif run.status == CellStatus.TIMED_OUT:
        message = TIMED_OUT_MESSAGE
    else:
        message = f"test cell {'failed' if run.status == CellStatus.ERROR else 'did not run'}"
        if error:
            message += f": {error}"
    return CellVerdict(grade_id, max_points, max_points if passed else 0.0, "assert", message=message)


def manual(grade_id: str, max_points: float) -> CellVerdict:
    return CellVerdict(grade_id, max_points, None, "manual", message="graded by hand")


def _judge_one(expected: dict, records: list[dict], run: CellRun, error: str | None,
               restricted: bool) -> ProbeVerdict:
    name, options = expected["name"], expected["options"]
    weight = float(options.get("weight", 1.0))
    if not records:
        return ProbeVerdict(name, False, weight, _missing_message(run, error))
    if len(records) > 1:
        return ProbeVerdict(name, False, weight, "emitted more than once" if restricted
                            else f"emitted {len(records)} times (expected once)")
    try:
        actual = decode(records[0].get("value"))
    except (ValueError, TypeError):
        return ProbeVerdict(name, False, weight, "value could not be read")
    passed, message = compare(decode(expected["value"]), actual, options)
    if restricted and not passed:  # a shape, a range, a count: all computed by the student's code
        message = "wrong value"
    return ProbeVerdict(name, passed, weight, message)


def _missing_message(run: CellRun, error: str | None) -> str:
    if run.status == CellStatus.TIMED_OUT:
        return f"not produced: {TIMED_OUT_MESSAGE}"
    if error is not None:
        return f"not produced: {error[:200]}"
    return "not produced" if run.status == CellStatus.OK else f"not produced (cell {run.status})"


def compare(expected: object, actual: object, options: dict) -> tuple[bool, str]:
    """Whether `actual` matches `expected` under the key's options, and a message without the answer."""
    low, high = options.get("min"), options.get("max")
    if low is not None or high is not None:
        if not _is_number(actual):
            return False, f"expected a number, got {_kind(actual)}"
        if (low is not None and actual < low) or (high is not None and actual > high):
            bounds = " and ".join(s for s in (low is not None and f">= {low}", high is not None and f"<= {high}") if s)
            return False, f"{actual:.4g} is not {bounds}"
        return True, "passed"
    if options.get("agree") is not None:
        return _agreement(expected, actual, float(options["agree"]))
    if options.get("exact"):
        return (True, "passed") if _exactly_equal(expected, actual) else (False, "wrong value")
    return _close(expected, actual, float(options.get("rtol", 1e-5)), float(options.get("atol", 1e-8)))


def _close(expected: object, actual: object, rtol: float, atol: float) -> tuple[bool, str]:
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            return False, "wrong keys" if isinstance(actual, dict) else f"expected a dict, got {_kind(actual)}"
        for key in expected:
            ok, message = _close(expected[key], actual[key], rtol, atol)
            if not ok:
                return False, f"[{key!r}]: {message}"
        return True, "passed"
    if isinstance(expected, list) and not _numeric_list(expected):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return False, f"expected a sequence of {len(expected)} items, got {_kind(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            ok, message = _close(e, a, rtol, atol)
            if not ok:
                return False, f"[{i}]: {message}"
        return True, "passed"
    if isinstance(expected, (str, type(None))) or isinstance(expected, bool):
        return (True, "passed") if expected == actual else (False, "wrong value")
    try:
        e = np.asarray(expected, dtype=np.float64)
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return False, f"expected numbers, got {_kind(actual)}"
    if e.shape != a.shape:
        return False, f"wrong shape {tuple(a.shape)}"
    if np.isnan(a).any() and not np.isnan(e).any():
        return False, "contains NaN"
    if not np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True):
        return False, "wrong value" if e.size == 1 else "wrong values"
    return True, "passed"


def _agreement(expected: object, actual: object, needed: float) -> tuple[bool, str]:
    """For labels: the fraction of elements equal to the key's must reach `needed`."""
    e, a = np.asarray(expected), np.asarray(actual)
    if e.shape != a.shape:
        return False, f"wrong shape {tuple(a.shape)}"
    share = float(np.mean(e == a)) if e.size else 1.0
    return (True, "passed") if share >= needed else (False, f"{share:.0%} agree (needs {needed:.0%})")


def _exactly_equal(expected: object, actual: object) -> bool:
    if isinstance(expected, np.ndarray) or isinstance(actual, np.ndarray):
        try:
            return np.array_equal(np.asarray(expected), np.asarray(actual))
        except (TypeError, ValueError):
            return False
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(_exactly_equal(e, a) for e, a in zip(expected, actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return set(expected) == set(actual) and all(_exactly_equal(expected[k], actual[k]) for k in expected)
    return type(expected) is type(actual) and expected == actual or (
        _is_number(expected) and _is_number(actual) and expected == actual)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric_list(value: list) -> bool:
    return all(_is_number(v) for v in value)


def _kind(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return type(value).__name__
