"""One self-contained HTML report per homework: figures as inline base64 PNG, no external files.

Class distribution, per-question difficulty and discrimination, score against
submission time, grading runtime per attempt, the failures with their reasons,
and the grade table with every student's status.
"""

from __future__ import annotations

import base64
import html as markup
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from graders.course import Course
from graders.reports import plots
from graders.reports.analytics import item_analysis
from graders.reports.table import attempts, grade_table, questions
from graders.states import AttemptState
from graders.store import Store

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;font-size:90%}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}img{max-width:100%}"""


def write(store: Store, hws: list[str], out_dir: Path, course: Course | None = None) -> list[Path]:
    paths = []
    for hw in hws:
        path = out_dir / f"{hw}.html"
        path.write_text(render(store, hw, course), encoding="utf-8")
        paths.append(path)
    return paths


def render(store: Store, hw: str, course: Course | None = None) -> str:
    table, graded, runs = grade_table(store, hw, course), questions(store, hw), attempts(store, hw)
    with store.gradebook() as gradebook:
        due = gradebook.find_assignment(hw).duedate
    analysis = item_analysis(table, graded)
    failures = runs[runs["state"] != AttemptState.DONE][["student", "notebook", "run_id", "number", "state", "reason"]]
    title = f"{hw}: grade report"
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{markup.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{markup.escape(title)}</h1>",
        f"<p>Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Due "
        f"{f'{due:%Y-%m-%d %H:%M} UTC' if due else 'date not set'}. {_summary(table)}</p>",
        "<h2>Class distribution</h2>", _img(plots.distribution(table), "class distribution"),
        "<h2>Questions: difficulty and discrimination</h2>", _img(plots.items(analysis), "question analysis"),
        analysis.to_html(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"),
        "<h2>Score vs. submission time</h2>", _img(plots.score_vs_time(table, due), "score vs submission time"),
        "<h2>Grading runtime per submission</h2>",
        _img(plots.runtimes(runs), "grading runtime") if len(runs) else "<p>No grading attempts yet.</p>",
        "<h2>Grading failures</h2>",
        failures.to_html(index=False, na_rep="-") if len(failures) else "<p>No failed attempts.</p>",
        "<h2>Grades</h2>", _grades(table), "</body></html>",
    ]
    return "\n".join(parts)


def _summary(table: pd.DataFrame) -> str:
    counts = table["status"].map(lambda s: "failed" if s.startswith("failed") else s).value_counts()
    return markup.escape(", ".join(f"{n} {status}" for status, n in counts.items()) + ".")


def _img(png: bytes, alt: str) -> str:
    return f"<img alt='{markup.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


def _grades(table: pd.DataFrame) -> str:
    """The grade table with a colour per status, so failures stand out; every cell is HTML-escaped."""
    def colour(status: str) -> str:
        if status.startswith("failed"):
            return "background-color: #fdd"
        return {"missing": "background-color: #eee", "needs manual": "background-color: #ffd"}.get(status, "")

    styled = table.style.hide(axis="index").format(na_rep="-", precision=2, escape="html").apply(
        lambda row: [colour(row["status"])] * len(row), axis=1)
    return styled.to_html()
