"""One self-contained HTML report per homework: figures as inline base64 PNG, no external files.

Class distribution, per-question difficulty and discrimination, score against
submission time, grading runtime per attempt, the failures with their reasons,
and the grade table with every student's status.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from graders.course import Course
from graders.reports import plots
from graders.reports.analytics import item_analysis
from graders.reports.table import attempts, grade_table, is_failed, questions
from graders.states import AttemptState
from graders.store import Store

TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class Rows:
    """A table for the template: column names and rows of plain values."""

    columns: list[str]
    rows: list[list]


def write(store: Store, hws: list[str], out_dir: Path, course: Course | None = None) -> list[Path]:
    paths = []
    for hw in hws:
        path = out_dir / f"{hw}.html"
        path.write_text(render(store, hw, course), encoding="utf-8")
        paths.append(path)
    return paths


def render(store: Store, hw: str, course: Course | None = None) -> str:
    """The report of `hw` as one HTML page (every value escaped by the template)."""
    table, graded, runs = grade_table(store, hw, course), questions(store, hw), attempts(store, hw)
    with store.gradebook() as gradebook:
        due = gradebook.find_assignment(hw).duedate
    analysis = item_analysis(table, graded)
    failures = runs[runs["state"] != AttemptState.DONE][["student", "notebook", "run_id", "number", "state", "reason"]]
    figures = {"distribution": _png(plots.distribution(table)), "questions": _png(plots.items(analysis)),
               "score_vs_time": _png(plots.score_vs_time(table, due)),
               "runtimes": _png(plots.runtimes(runs)) if len(runs) else None}
    return _environment().get_template(TEMPLATE).render(
        hw=hw, generated=f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}",
        due=f"{due:%Y-%m-%d %H:%M} UTC" if due else None, summary=_summary(table), figures=figures,
        analysis=_rows(analysis), failures=_rows(failures),
        grades=Rows(list(table.columns), [(_status_class(row["status"]), list(row)) for _, row in table.iterrows()]))


def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("graders.reports"), autoescape=True, undefined=StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["cell"] = _cell
    return environment


def _rows(frame: pd.DataFrame) -> Rows:
    return Rows(list(frame.columns), [list(row) for row in frame.itertuples(index=False)])


def _cell(value: object) -> str:
    """A table cell for people: 2 decimals, "-" for nothing."""
    if value is None or isinstance(value, float) and math.isnan(value) or value is pd.NaT:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _status_class(status: str) -> str:
    return "failed" if is_failed(status) else {"missing": "missing", "needs manual": "needs-manual"}.get(status, "")


def _summary(table: pd.DataFrame) -> str:
    counts = table["status"].map(lambda s: "failed" if is_failed(s) else s).value_counts()
    return ", ".join(f"{n} {status}" for status, n in counts.items()) + "."


def _png(png: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(png).decode()}"
