"""The API that test cells use to emit values: `probe(name, value, ...)`.

A test cell decides nothing. It hands values to the grader, which compares them
with the answer key outside the sandbox (see `graders.grading.verdict`). The options
(tolerances, weight, bounds) only matter when the instructor solution runs at
`graders generate`: they are stored in the key, and a student's kernel cannot
change them.
"""

from __future__ import annotations

from typing import Any, Callable

from graders.sandbox.values import encode

# Set by the grading kernel (graders.sandbox.kernel); None in a student's own Jupyter.
_emit: Callable[[dict], None] | None = None


def probe(
    name: str,
    value: Any,
    *,
    weight: float = 1.0,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    exact: bool = False,
    min: float | None = None,
    max: float | None = None,
    agree: float | None = None,
) -> None:
    """Emit `value` under `name` for the grader; in plain Jupyter, just say it was recorded."""
    record = {
        "name": str(name),
        "value": encode(value),
        "options": {"weight": float(weight), "rtol": float(rtol), "atol": float(atol),
                    "exact": bool(exact), "min": min, "max": max, "agree": agree},
    }
    if _emit is None:
        print(f"[probe] {name}: recorded for grading")
    else:
        _emit(record)
