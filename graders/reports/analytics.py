"""Item analysis of a homework: how hard each question was and how well it separates students.

Computed over the graded submissions only (failed and missing ones would read as
zeros and distort both numbers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graders.reports.table import GRADED, NEEDS_MANUAL, Question


def graded_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"].isin((GRADED, NEEDS_MANUAL))]


def item_analysis(table: pd.DataFrame, graded: list[Question]) -> pd.DataFrame:
    """Per question (named `notebook:grade_id`, as in the grade table): max, mean score, difficulty (mean / max:
    1 = everyone got it) and discrimination (correlation of the question's score with the rest of the total; NaN
    when it cannot be told)."""
    rows = graded_rows(table)
    scores = rows[[q.column for q in graded]].astype(float).fillna(0.0)
    total = scores.sum(axis=1)
    out = []
    for q in graded:
        item = scores[q.column]
        rest = total - item
        out.append({"question": q.column, "max_score": q.max_score, "mean": item.mean() if len(item) else np.nan,
                    "difficulty": item.mean() / q.max_score if len(item) and q.max_score else np.nan,
                    "discrimination": _correlation(item, rest)})
    return pd.DataFrame(out, columns=["question", "max_score", "mean", "difficulty", "discrimination"])


def _correlation(a: pd.Series, b: pd.Series) -> float:
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])
