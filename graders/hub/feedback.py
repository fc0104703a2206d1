"""Student feedback from an autograded notebook: per test name, points and a short message.

Built only from the verdicts the grader wrote into `metadata.graders` of the
graded cells, never from the cells' source or outputs, so hidden inputs,
expected values and test code cannot leak; the verdicts' messages carry no text
that a run produced at or after hidden test code (graders.grading.disclosure).
`reveal=True` (an instructor option, after the due date) adds the test cells' source.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat

from graders import cells

MESSAGE_CHARS = 200


def build(notebook_path: Path, *, reveal: bool = False) -> dict:
    """The feedback of one autograded notebook as JSON-ready data."""
    notebook = nbformat.read(notebook_path, as_version=4)
    parts = []
    for cell in notebook.cells:
        verdict = cell.metadata.get("graders")
        if not verdict:
            continue
        part = {"cell": cells.grade_id(cell), "score": verdict.get("score"),
                "max_points": verdict.get("max_points"), "tests": _tests(verdict)}
        if not part["tests"]:
            part["message"] = _short(verdict.get("message", ""))
        if reveal:
            part["source"] = cell.source
        parts.append(part)
    scored = [p for p in parts if p["score"] is not None]
    return {"notebook": notebook_path.stem,
            "score": round(sum(p["score"] for p in scored), 6),
            "max_score": sum(p["max_points"] or 0 for p in scored),
            "reason": notebook.metadata.get("graders", {}).get("reason"),
            "notes": list(notebook.metadata.get("graders", {}).get("notes", [])),
            "cells": parts}


def _tests(verdict: dict) -> list[dict]:
    """Each probe with the points it earned: the cell's points shared by weight, as the verdict scores them."""
    tests = verdict.get("tests") or []
    total = sum(t.get("weight", 1.0) for t in tests)
    max_points = verdict.get("max_points") or 0
    return [{"name": t["name"], "passed": bool(t["passed"]),
             "points": round(max_points * t.get("weight", 1.0) / total, 4) if total and t["passed"] else 0.0,
             "max_points": round(max_points * t.get("weight", 1.0) / total, 4) if total else 0.0,
             "message": _short(t.get("message", ""))} for t in tests]


def _short(message: str) -> str:
    message = " ".join(str(message).split())
    return message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS - 1] + "…"


def to_html(hw: str, feedback: list[dict], status: dict) -> str:
    """A self-contained HTML page of a submission's feedback (what the student opens)."""
    rows = []
    for nb in feedback:
        rows.append(f"<h2>{_e(nb['notebook'])}: {nb['score']:g} / {nb['max_score']:g}</h2>")
        if nb.get("reason"):
            rows.append(f"<p class='reason'>Grading stopped early: {_e(nb['reason'])}</p>")
        for note in nb.get("notes", []):
            rows.append(f"<p class='note'>Note: {_e(note)}</p>")
        rows.append("<table><tr><th>cell</th><th>test</th><th>points</th><th>result</th></tr>")
        for part in nb["cells"]:
            score = "manual" if part["score"] is None else f"{part['score']:g} / {part['max_points']:g}"
            rows.append(f"<tr class='cell'><td>{_e(part['cell'])}</td><td></td><td>{score}</td>"
                        f"<td>{_e(part.get('message', ''))}</td></tr>")
            for test in part["tests"]:
                mark = "passed" if test["passed"] else "failed"
                rows.append(f"<tr class='test {mark}'><td></td><td>{_e(test['name'])}</td>"
                            f"<td>{test['points']:g} / {test['max_points']:g}</td>"
                            f"<td>{_e(test['message'])}</td></tr>")
            if "source" in part:
                rows.append(f"<tr><td colspan='4'><pre>{_e(part['source'])}</pre></td></tr>")
        rows.append("</table>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback {_e(hw)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px}.passed td:nth-child(4){color:#060}"
            ".failed td:nth-child(4){color:#a00}</style></head><body>"
            f"<h1 id='feedback-title'>Feedback for {_e(hw)}</h1>"
            f"<p id='status'>Status: {_e(status.get('state', ''))}. Submitted {_e(status.get('timestamp', ''))} "
            f"(server time).</p>{''.join(rows)}</body></html>")


def _e(text: object) -> str:
    return html.escape(str(text))
