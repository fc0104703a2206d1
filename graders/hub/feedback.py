"""Student feedback from an autograded notebook: each question's points, each test's result and message.

Built only from the verdicts the grader wrote into `metadata.graders` of the
graded cells, never from the cells' source or outputs, so hidden inputs,
expected values and test code cannot leak; the verdicts' messages say only what
graders.grading.disclosure allows. A question is a graded cell worth points
(instruction cells are not questions); its points are the gradebook's when it
has them (a TA's score, a comment), else the verdict's. Sentences are said in
the student's language (graders.i18n). `reveal=True` (after the due date, when
the homework allows it) adds the test cells' source.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from graders import cells, i18n
from graders.grading.messages import restored, translate
from graders.store.gradebook import CellMark

MESSAGE_CHARS = 300
PASSED, PARTIAL, FAILED, WAITING = "passed", "partial", "failed", "waiting"  # a question's result


def build(notebook_path: Path, *, lang: str = "en", reveal: bool = False,
          marks: dict[str, CellMark] | None = None) -> dict:
    """The feedback of one autograded notebook as JSON-ready data, its sentences in `lang`.

    {"notebook", "score", "max_score", "reason", "notes", "comments": {cell: comment on an ungraded cell},
     "questions": [{"cell", "kind", "score" (None: waits for a TA), "max_points", "result", "by_ta",
     "comment", "message", "tests": [{"name", "passed", "points", "max_points", "message"}], "source"?}]}
    """
    notebook = nbformat.read(notebook_path, as_version=4)
    gettext = i18n.translations(lang).gettext
    marks = marks or {}
    questions = []
    for cell in notebook.cells:
        verdict = cell.metadata.get("graders")
        if not verdict or not verdict.get("max_points"):
            continue  # not graded, or worth nothing: not a question
        name = cells.grade_id(cell)
        mark = marks.get(name)
        # the gradebook's score (a TA's, or the autograder's with extra credit), but not its 0 for a
        # question nobody graded yet
        waits = verdict.get("score") is None and not (mark and mark.by_person)
        score = verdict.get("score") if mark is None or waits else mark.score
        question = {"cell": name, "kind": verdict.get("kind"), "score": score, "max_points": verdict["max_points"],
                    "by_ta": bool(mark and mark.by_person), "comment": mark.comment if mark else None,
                    "message": _said(verdict.get("message", ""), verdict.get("why"), gettext),
                    "tests": _tests(verdict, gettext)}
        question["result"] = _result(score, verdict["max_points"])
        if reveal:
            question["source"] = cell.source
        questions.append(question)
    graded = {q["cell"] for q in questions}
    meta = notebook.metadata.get("graders", {})
    return {"notebook": notebook_path.stem,
            "score": round(sum(q["score"] or 0.0 for q in questions), 6),
            "max_score": sum(q["max_points"] for q in questions),
            "reason": meta.get("reason"), "notes": list(meta.get("notes", [])),
            "comments": {name: m.comment for name, m in marks.items() if m.comment and name not in graded},
            "questions": questions}


def attention(notebook: dict) -> list[dict]:
    """The questions of a notebook's feedback that lost autograded points, failed ones first: what to look at."""
    lost = [q for q in notebook["questions"] if q["result"] in (FAILED, PARTIAL) and q["kind"] != "manual"]
    return sorted(lost, key=lambda q: q["result"] != FAILED)


def _result(score: float | None, max_points: float) -> str:
    if score is None:
        return WAITING
    return PASSED if score >= max_points else FAILED if score <= 0 else PARTIAL


def _tests(verdict: dict, gettext) -> list[dict]:  # noqa: ANN001 - a catalog's gettext
    """Each probe with the points it earned: the cell's points shared by weight, as the verdict scores them."""
    tests = verdict.get("tests") or []
    total = sum(t.get("weight", 1.0) for t in tests)
    max_points = verdict.get("max_points") or 0
    found = []
    for test in tests:
        share = round(max_points * test.get("weight", 1.0) / total, 6) if total else 0.0
        found.append({"name": test["name"], "passed": bool(test["passed"]),
                      "points": share if test["passed"] else 0.0, "max_points": share,
                      "message": _said(test.get("message", ""), test.get("why"), gettext)})
    return sorted(found, key=lambda t: t["passed"])  # failed tests first


def _said(message: str, kept: object, gettext) -> str:  # noqa: ANN001 - a catalog's gettext
    """A verdict's message in the catalog's language, on one line, at most MESSAGE_CHARS long."""
    text = " ".join(translate(restored(str(message), kept), gettext).split())
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"
