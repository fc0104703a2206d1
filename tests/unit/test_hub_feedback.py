"""Student feedback is built from the grader's verdicts only (never the hidden test cells' content), shows
the points first and what failed on top, says it in the student's language, and renders names as text."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from graders.grading.messages import Message, saved
from graders.hub import feedback, pages
from graders.store.gradebook import CellMark

SECRET = "HIDDEN_INPUT = torch.tensor([0.123456789])  # expected 42.4242"
STATUS = {"assignment_id": "hw", "student": "alice", "state": "graded", "timestamp": "2026-11-20 10:05:00.000000 UTC",
          "reason": None, "score": 6.25, "max_score": 12.0, "late_penalty": 0.0, "needs_manual": True}
HOSTILE = "<script>alert(1)</script>"


def nbgrader(grade_id: str, points: float, *, solution: bool = False, grade: bool = True) -> dict:
    return {"grade": grade, "solution": solution, "grade_id": grade_id, "points": points}


def probe_result(name: str, passed: bool, weight: float, message: str) -> dict:
    return {"name": name, "passed": passed, "weight": weight, "message": message, "why": saved(message)}


def autograded(path: Path, *, name: str = "hw") -> Path:
    shape = Message("wrong shape: got {got}, expected {expected}", got="(3, 4)", expected="(4, 3)")
    test_cell = nbformat.v4.new_code_cell(SECRET, metadata={"nbgrader": nbgrader("test_forward", 4), "graders": {
        "score": 3.0, "max_points": 4, "kind": "probes", "message": "",
        "tests": [probe_result("forward_relu", True, 3.0, Message("passed")),
                  probe_result("forward_sigmoid", False, 1.0, shape)]}})
    test_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="expected 42.4242")]
    thirds = nbformat.v4.new_code_cell("probe('a', 1)", metadata={"nbgrader": nbgrader("test_thirds", 3), "graders": {
        "score": 0.0, "max_points": 3, "kind": "assert", "message": Message("test cell failed"), "why": None,
        "tests": []}})
    ninths = nbformat.v4.new_code_cell("", metadata={"nbgrader": nbgrader("test_ninths", 10 / 9), "graders": {
        "score": 10 / 9, "max_points": 10 / 9, "kind": "assert", "message": "passed", "tests": []}})
    manual = nbformat.v4.new_markdown_cell("Explain.", metadata={
        "nbgrader": nbgrader("q_why", 2, solution=True),
        "graders": {"score": None, "max_points": 2, "kind": "manual", "message": "graded by hand", "tests": []}})
    instruction = nbformat.v4.new_markdown_cell("Read this first.", metadata={
        "nbgrader": nbgrader("intro", 0, grade=False),
        "graders": {"score": None, "max_points": 0, "kind": "manual", "message": "graded by hand", "tests": []}})
    notebook = nbformat.v4.new_notebook(cells=[instruction, nbformat.v4.new_code_cell("x = 1"), ninths, test_cell,
                                               thirds, manual])
    notebook.metadata["graders"] = {"reason": None}
    nbformat.write(notebook, path / f"{name}.ipynb")
    return path / f"{name}.ipynb"


def text(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_feedback_gives_each_question_its_points_and_each_test_its_message(tmp_path: Path) -> None:
    result = feedback.build(autograded(tmp_path))
    questions = {q["cell"]: q for q in result["questions"]}
    assert list(questions) == ["test_ninths", "test_forward", "test_thirds", "q_why"]  # no instruction cell
    assert (result["score"], result["max_score"]) == (round(3.0 + 10 / 9, 6), 4 + 3 + 10 / 9 + 2)
    forward = questions["test_forward"]
    assert [(t["name"], t["passed"], t["points"], t["max_points"]) for t in forward["tests"]] == [
        ("forward_sigmoid", False, 0.0, 1.0), ("forward_relu", True, 3.0, 3.0)]  # failed tests first
    assert forward["tests"][0]["message"] == "wrong shape: got (3, 4), expected (4, 3)"
    assert [questions[q]["result"] for q in questions] == ["passed", "partial", "failed", "waiting"]
    assert [q["cell"] for q in feedback.attention(result)] == ["test_thirds", "test_forward"]  # failed, then partial


def test_the_page_says_the_points_first_then_the_failed_tests_rounded_for_people(tmp_path: Path) -> None:
    page = text(pages.feedback_page("hw", [feedback.build(autograded(tmp_path))], STATUS, "en"))
    assert page.index("Your score: 6.25 / 12") < page.index("Points per question") < page.index("Tests to look at")
    assert page.index("Tests to look at") < page.index("1 test passed")
    assert "test_ninths 1.11 / 1.11 passed" in page and "1.1111" not in page
    assert "test_thirds 0 / 3 failed" in page and "test_forward 3 / 4 partly passed" in page
    assert "forward_sigmoid 0 / 1 wrong shape: got (3, 4), expected (4, 3)" in page
    assert "test_thirds 0 / 3 test cell failed" in page  # an assert-style test: the cell's message
    assert "q_why – / 2 graded by your TA" in page
    assert "intro" not in page and "Read this first" not in page


def test_a_manual_question_says_graded_by_your_ta_until_a_ta_grades_it(tmp_path: Path) -> None:
    ungraded = {"q_why": CellMark(0.0, False, None)}  # what the gradebook's Grade.score says before that
    page = text(pages.feedback_page("hw", [feedback.build(autograded(tmp_path), marks=ungraded)], STATUS, "en"))
    assert "q_why – / 2 graded by your TA" in page


def test_a_manual_question_shows_the_tas_score_and_comment_once_graded(tmp_path: Path) -> None:
    marks = {"q_why": CellMark(1.5, True, "Good, but say why ReLU."), "test_thirds": CellMark(3.0, True, None),
             "mlp": CellMark(None, False, "Clean code.")}
    result = feedback.build(autograded(tmp_path), marks=marks)
    page = text(pages.feedback_page("hw", [result], STATUS, "en"))
    assert "q_why 1.5 / 2 graded by your TA Your TA: Good, but say why ReLU." in page
    assert "test_thirds 3 / 3 graded by your TA" in page  # a TA's score replaces the autograder's
    assert "Your TA on mlp: Clean code." in page
    assert result["score"] == round(10 / 9 + 3.0 + 3.0 + 1.5, 6)


def test_feedback_is_in_the_students_language(tmp_path: Path) -> None:
    result = feedback.build(autograded(tmp_path), lang="fr")
    page = text(pages.feedback_page("hw", [result], STATUS, "fr"))
    assert "Votre note : 6,25 / 12" in page and "Points par question" in page and "Tests à revoir" in page
    assert "forward_sigmoid 0 / 1 mauvaise forme : obtenu (3, 4), attendu (4, 3)" in page
    assert "test_ninths 1,11 / 1,11 réussi" in page and "corrigé par votre chargé de TD" in page
    assert "Rendu le 20 nov. 2026 10:05 UTC." in page
    assert '<html lang="fr">' in pages.feedback_page("hw", [result], STATUS, "fr")


def test_feedback_never_contains_hidden_test_source_or_outputs(tmp_path: Path) -> None:
    result = feedback.build(autograded(tmp_path))
    page = pages.feedback_page("hw", [result], STATUS, "en")
    for shown in (str(result), page):
        assert "HIDDEN_INPUT" not in shown and "0.123456789" not in shown and "42.4242" not in shown


def test_reveal_adds_the_test_source_for_after_the_due_date(tmp_path: Path) -> None:
    result = feedback.build(autograded(tmp_path), reveal=True)
    assert [q for q in result["questions"] if q["cell"] == "test_forward"][0]["source"] == SECRET
    assert "HIDDEN_INPUT" in pages.feedback_page("hw", [result], STATUS, "en")


def test_hostile_student_and_homework_names_render_as_text(tmp_path: Path) -> None:
    """A student id, homework, notebook, test name or TA comment with markup in it is shown, never run."""
    notebook = autograded(tmp_path, name=f"nb{HOSTILE.replace('/', '')}")
    built = feedback.build(notebook, marks={"q_why": CellMark(1.0, True, HOSTILE)})
    status = {**STATUS, "state": "failed", "reason": HOSTILE, "student": HOSTILE}
    rendered = [pages.feedback_page(HOSTILE, [built, built], status, "en"),
                pages.render("home.html", "en", staff=True, rows=[
                    {"student": HOSTILE, "hw": HOSTILE, "view": pages.submission_view(status, "en"),
                     "feedback_url": f"/feedback/{HOSTILE}"}]),
                pages.render("error.html", "fr", status_code=404, title="Not Found", message=f"{HOSTILE} is not released")]
    for page in rendered:
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
