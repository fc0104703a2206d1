"""The trusted verdict: compare what a submission emitted with the answer key, award points.

Runs in the grader process, outside any sandbox, on decoded plain data. A test
cell's points are split between its probes by weight; a probe that is missing,
emitted twice, malformed or wrong earns nothing, and nothing else is affected.
Messages are the trusted grader's own: it compares the student's value with the key
here and says what differs (wrong shape: got (3, 4), expected (4, 3); values differ:
largest error 0.31 at [2, 0]; NaN or inf in your result; a missing probe: what the
cell raised, where), never an expected value. For a test cell that ran at or after
hidden test code (`restricted`, see graders.grading.disclosure) a message says only
the kind of failure and what the key fixes for every student (the expected shape,
keys, length or type, the tolerance, a bound), never a number computed by the
student's code (their shape, their error, their share of agreeing labels), since
that code could have read the hidden inputs. Messages are `Message`s: English text
that feedback can say in the student's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from nbgrader.utils import get_partial_grade

from graders.contract import CellRun, CellStatus
from graders.grading.messages import N_, Message
from graders.sandbox.values import decode

# Written here, not read from the run: the cell's own error text comes from the sandbox.
PASSED = Message("passed")
INSIDE = N_("{where}: {message}")  # a message about a part of the value: ['w1'][0]: wrong shape...
TIMED_OUT_MESSAGE = N_("cell timed out (stopped at the homework's limit for one cell)")


@dataclass
class ProbeVerdict:
    name: str
    passed: bool
    weight: float
    message: Message


@dataclass
class CellVerdict:
    """The score of one graded cell and why."""

    grade_id: str
    max_points: float
    score: float | None  # None: waits for a person (manual question)
    kind: str  # "probes" | "assert" | "manual"
    probes: list[ProbeVerdict] = field(default_factory=list)
    message: str = ""  # a Message when the grader wrote it


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


def judge_assert(grade_id: str, max_points: float, run: CellRun, *, error: str | None = None,
                 ignore_stderr: str = "") -> CellVerdict:
    """nbgrader's rule for plain assert-style test cells (`nbgrader.utils.determine_grade`), output by output:
    an error or any stderr output earns 0, the cell's value (its last expression) is partial credit
    when it reads as a number from 0 to `max_points`, and a cell that ran cleanly earns full points.

    `error`: the cell's exception as feedback may show it (Disclosure.describe_error). `ignore_stderr` is
    nbgrader's IgnorePattern: stderr outputs matching that regular expression do not count.
    Weaker than probes: student code in the same kernel can make such a cell pass.
    """
    failed = Message("test cell failed: {error}", error=error) if error else Message("test cell failed")
    if run.status == CellStatus.TIMED_OUT:
        return _assert_verdict(grade_id, max_points, 0.0, Message(TIMED_OUT_MESSAGE))
    if run.status != CellStatus.OK and not any(o.get("output_type") == "error" for o in run.outputs):
        unfinished = {CellStatus.ERROR: failed, CellStatus.RUNNING: Message("test cell did not finish")}
        return _assert_verdict(grade_id, max_points, 0.0,
                               unfinished.get(run.status, Message("test cell did not run")))
    for output in run.outputs:
        kind = output.get("output_type")
        if kind == "error":
            return _assert_verdict(grade_id, max_points, 0.0, failed)
        if kind == "stream" and output.get("name") == "stderr" and not (
                ignore_stderr and re.search(ignore_stderr, str(output.get("text", "")))):
            return _assert_verdict(grade_id, max_points, 0.0, Message("test cell wrote to stderr (nbgrader fails it)"))
        if kind == "execute_result":
            try:
                score = float(get_partial_grade(output, max_points))
            except (KeyError, TypeError, ValueError):
                return _assert_verdict(grade_id, max_points, 0.0, Message(
                    "the test cell's value is not a partial credit from 0 to {points}", points=f"{max_points:g}"))
            return _assert_verdict(grade_id, max_points, score, PASSED if score == max_points else Message(
                "partial credit {score}/{points}", score=f"{score:g}", points=f"{max_points:g}"))
    return _assert_verdict(grade_id, max_points, max_points, PASSED)


def _assert_verdict(grade_id: str, max_points: float, score: float, message: Message) -> CellVerdict:
    return CellVerdict(grade_id, max_points, score, "assert", message=message)


def manual(grade_id: str, max_points: float, *, answered: bool) -> CellVerdict:
    """A written answer: a person grades it, unless it was left as released (then 0, as nbgrader gives)."""
    if not answered:
        return CellVerdict(grade_id, max_points, 0.0, "manual", message=Message("no response (left as released)"))
    return CellVerdict(grade_id, max_points, None, "manual", message=Message("graded by hand"))


def _judge_one(expected: dict, records: list[dict], run: CellRun, error: str | None,
               restricted: bool) -> ProbeVerdict:
    name, options = expected["name"], expected["options"]
    weight = float(options.get("weight", 1.0))
    if not records:
        return ProbeVerdict(name, False, weight, _missing_message(run, error))
    if len(records) > 1:
        return ProbeVerdict(name, False, weight, Message("emitted more than once") if restricted
                            else Message("emitted {count} times (expected once)", count=len(records)))
    try:
        actual = decode(records[0].get("value"))
    except (ValueError, TypeError):
        return ProbeVerdict(name, False, weight, Message("value could not be read"))
    passed, message = compare(decode(expected["value"]), actual, options, restricted=restricted)
    return ProbeVerdict(name, passed, weight, message)


def _missing_message(run: CellRun, error: str | None) -> Message:
    if run.status == CellStatus.TIMED_OUT:
        return Message("not produced: {error}", error=Message(TIMED_OUT_MESSAGE))
    if error is not None:
        return Message("not produced: {error}", error=error if isinstance(error, Message) else error[:200])
    if run.status == CellStatus.OK:
        return Message("not produced")
    return Message("not produced (the cell did not finish)") if run.status == CellStatus.RUNNING \
        else Message("not produced (the cell did not run)")


def compare(expected: object, actual: object, options: dict, *, restricted: bool = False) -> tuple[bool, Message]:
    """Whether `actual` matches `expected` under the key's options, and a message without the answer.

    `restricted`: the message says nothing computed from `actual` but the kind of failure (see the module).
    """
    low, high = options.get("min"), options.get("max")
    if low is not None or high is not None:
        if not _is_number(actual):
            return False, Message("expected a number, got {got}", got=_kind(actual))
        if low is not None and actual < low:
            return False, Message("below the minimum {low}", low=_number(low)) if restricted else \
                Message("{got} is below the minimum {low}", got=_number(actual), low=_number(low))
        if high is not None and actual > high:
            return False, Message("above the maximum {high}", high=_number(high)) if restricted else \
                Message("{got} is above the maximum {high}", got=_number(actual), high=_number(high))
        return True, PASSED
    if options.get("agree") is not None:
        return _agreement(expected, actual, float(options["agree"]), restricted)
    if options.get("exact"):
        return (True, PASSED) if _exactly_equal(expected, actual) else (False, Message("wrong value"))
    return _close(expected, actual, float(options.get("rtol", 1e-5)), float(options.get("atol", 1e-8)), restricted)


def _close(expected: object, actual: object, rtol: float, atol: float, restricted: bool) -> tuple[bool, Message]:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False, Message("expected a dict, got {got}", got=_kind(actual))
        if set(actual) != set(expected):
            keys = ", ".join(sorted(map(repr, expected)))
            return False, Message("wrong keys: expected {expected}", expected=keys) if restricted else \
                Message("wrong keys: expected {expected}, got {got}", expected=keys,
                        got=", ".join(sorted(map(repr, actual))) or "none")
        for key in expected:
            ok, message = _close(expected[key], actual[key], rtol, atol, restricted)
            if not ok:
                return False, _inside(f"[{key!r}]", message)
        return True, PASSED
    if isinstance(expected, list) and not _numeric_list(expected):
        if not isinstance(actual, list):
            return False, Message("expected a sequence of {expected} items, got {got}", expected=len(expected),
                                  got=_kind(actual))
        if len(actual) != len(expected):
            return False, Message("expected {expected} items", expected=len(expected)) if restricted else \
                Message("expected {expected} items, got {got}", expected=len(expected), got=len(actual))
        for i, (e, a) in enumerate(zip(expected, actual)):
            ok, message = _close(e, a, rtol, atol, restricted)
            if not ok:
                return False, _inside(f"[{i}]", message)
        return True, PASSED
    if isinstance(expected, (str, type(None))) or isinstance(expected, bool):
        return (True, PASSED) if expected == actual else (False, Message("wrong value"))
    try:
        e = np.asarray(expected, dtype=np.float64)
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return False, Message("expected numbers, got {got}", got=_kind(actual))
    if e.shape != a.shape:
        return False, Message("wrong shape: expected {expected}", expected=_shape(e)) if restricted else \
            Message("wrong shape: got {got}, expected {expected}", got=_shape(a), expected=_shape(e))
    if (~np.isfinite(a) & np.isfinite(e)).any():
        return False, Message("NaN or inf in your result")
    if np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True):
        return True, PASSED
    tolerance = {"rtol": _number(rtol), "atol": _number(atol)}
    if restricted:
        return False, Message("values differ (tolerance: relative {rtol}, absolute {atol})", **tolerance)
    # where the comparison fails by the most (np.allclose's own test, |a - e| <= atol + rtol * |e|)
    with np.errstate(invalid="ignore"):
        excess = np.where(np.isnan(a) & np.isnan(e), -np.inf, np.abs(a - e) - (atol + rtol * np.abs(e)))
    worst = np.unravel_index(int(np.argmax(excess)), a.shape) if a.ndim else ()
    error = _number(float(abs(a[worst] - e[worst])))
    if e.size == 1:
        return False, Message("values differ: off by {error} (tolerance: relative {rtol}, absolute {atol})",
                              error=error, **tolerance)
    return False, Message("values differ: largest error {error} at {index} (tolerance: relative {rtol}, "
                          "absolute {atol})", error=error, index=str(list(map(int, worst))), **tolerance)


def _inside(where: str, message: Message) -> Message:
    """`message` about the part `where` of a value (a key or index, from the key's structure): ['w'][0]: ..."""
    if message.template == INSIDE:
        return Message(INSIDE, where=where + str(message.values["where"]), message=message.values["message"])
    return Message(INSIDE, where=where, message=message)


def _agreement(expected: object, actual: object, needed: float, restricted: bool) -> tuple[bool, Message]:
    """For labels: the fraction of elements equal to the key's must reach `needed`."""
    e, a = np.asarray(expected), np.asarray(actual)
    if e.shape != a.shape:
        return False, Message("wrong shape: expected {expected}", expected=_shape(e)) if restricted else \
            Message("wrong shape: got {got}, expected {expected}", got=_shape(a), expected=_shape(e))
    share = float(np.mean(e == a)) if e.size else 1.0
    if share >= needed:
        return True, PASSED
    return False, Message("too few agree (needs {needed})", needed=f"{needed:.0%}") if restricted else \
        Message("{share} agree (needs {needed})", share=f"{share:.0%}", needed=f"{needed:.0%}")


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
    """The type of a decoded value, by its Python name (one of a few: the wire carries plain data)."""
    return "array" if isinstance(value, np.ndarray) else type(value).__name__


def _shape(value: np.ndarray) -> str:
    return str(tuple(int(n) for n in value.shape))


def _number(value: float) -> str:
    """A number as people read it in a message: 2 significant digits (0.31, 1e-05, 120)."""
    return f"{value:.2g}"
