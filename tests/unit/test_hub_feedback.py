"""Student feedback is built from the grader's verdicts only: never the hidden test cells' content."""

from __future__ import annotations

from pathlib import Path

import nbformat

from graders.hub import feedback

SECRET = "HIDDEN_INPUT = torch.tensor([0.123456789])  # expected 42.4242"


def autograded(path: Path) -> Path:
    test = nbformat.v4.new_code_cell(SECRET, metadata={
        "nbgrader": {"grade": True, "solution": False, "grade_id": "test_forward", "points": 4},
        "graders": {"score": 3.0, "max_points": 4, "kind": "probes", "message": "",
                    "tests": [{"name": "forward_relu", "passed": True, "weight": 3.0, "message": "passed"},
                              {"name": "forward_sigmoid", "passed": False, "weight": 1.0,
                               "message": "max abs error 0.5 at [0, 1]  " + "x" * 400}]}})
    test.outputs = [nbformat.v4.new_output("stream", name="stdout", text="expected 42.4242")]
    manual = nbformat.v4.new_markdown_cell("Explain.", metadata={
        "nbgrader": {"grade": True, "solution": True, "grade_id": "q_why", "points": 2},
        "graders": {"score": None, "max_points": 2, "kind": "manual", "message": "graded by hand", "tests": []}})
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), test, manual])
    notebook.metadata["graders"] = {"reason": None}
    nbformat.write(notebook, path / "hw.ipynb")
    return path / "hw.ipynb"


def test_feedback_gives_each_test_its_points_and_message(tmp_path: Path) -> None:
    result = feedback.build(autograded(tmp_path))
    forward = result["cells"][0]
    assert (result["score"], result["max_score"]) == (3.0, 4)
    assert [(t["name"], t["passed"], t["points"], t["max_points"]) for t in forward["tests"]] == [
        ("forward_relu", True, 3.0, 3.0), ("forward_sigmoid", False, 0.0, 1.0)]
    assert forward["tests"][1]["message"].startswith("max abs error 0.5")
    assert len(forward["tests"][1]["message"]) <= feedback.MESSAGE_CHARS
    assert result["cells"][1] == {"cell": "q_why", "score": None, "max_points": 2, "tests": [],
                                  "message": "graded by hand"}


def test_feedback_never_contains_hidden_test_source_or_outputs(tmp_path: Path) -> None:
    result = feedback.build(autograded(tmp_path))
    page = feedback.to_html("hw", [result], {"state": "graded", "timestamp": "t"})
    for text in (str(result), page):
        assert "HIDDEN_INPUT" not in text and "0.123456789" not in text and "42.4242" not in text


def test_reveal_adds_the_test_source_for_after_the_due_date(tmp_path: Path) -> None:
    result = feedback.build(autograded(tmp_path), reveal=True)
    assert result["cells"][0]["source"] == SECRET
    assert "HIDDEN_INPUT" in feedback.to_html("hw", [result], {"state": "graded"})
