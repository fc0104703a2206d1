"""Tampered notebooks: the tests, their points and the grade ids always come from source/.

Baselines graded in the same run: alice (the solution: 100) and partial (one known
mutant of the solution, which fails three tests): a tampered copy of either must earn
exactly what its untampered twin earns.
"""

from __future__ import annotations

import json

from nbgrader.api import Gradebook

from tests.security.conftest import HW


def _notes(graded, student) -> list[str]:  # noqa: ANN001
    """The notes of the student's job (the record), which the autograded notebook repeats for feedback."""
    notes = graded.jobs[student][-1].notes
    assert json.loads(graded.notebook_text(student))["metadata"]["graders"]["notes"] == notes
    return notes


def test_deleted_test_cells_are_restored_and_run(attack_class):
    outcome = attack_class.outcomes["tamper_tests_deleted"]
    assert outcome.state == "done" and outcome.score == attack_class.outcomes["alice"].score
    assert outcome.max_score == 100
    assert any(n.startswith("instructor cells restored: ") for n in _notes(attack_class, "tamper_tests_deleted"))


def test_edited_test_cells_are_replaced_by_the_instructors(attack_class):
    outcome = attack_class.outcomes["tamper_tests_edited"]
    assert outcome.score == attack_class.outcomes["partial"].score < 100
    assert outcome.max_score == 100


def test_changed_points_are_ignored(attack_class):
    outcome, partial = attack_class.outcomes["tamper_points"], attack_class.outcomes["partial"]
    assert outcome.score == partial.score and outcome.max_score == partial.max_score == 100
    with Gradebook(attack_class.course.db_url, attack_class.course.course_id) as gradebook:
        tampered = gradebook.find_submission(HW, "tamper_points")
        assert tampered.max_score == gradebook.find_submission(HW, "partial").max_score


def test_duplicate_and_invented_grade_ids_earn_nothing(attack_class):
    outcome = attack_class.outcomes["tamper_ids"]
    assert outcome.score == attack_class.outcomes["partial"].score < 100 and outcome.max_score == 100
    notes = _notes(attack_class, "tamper_ids")
    assert any(n.startswith("duplicate of instructor cell") for n in notes)
    assert any("bonus_points not recognised" in n for n in notes)
    # as nbgrader's DeduplicateIds: the last copy of an answer cell is the graded one (worth what the master says)
    assert "answer cell mlp appears 2 times: the last copy is graded" in notes


def test_an_invented_graded_cell_adds_no_points_to_a_full_solution(attack_class):
    outcome = attack_class.outcomes["tamper_invented"]
    assert outcome.score == outcome.max_score == 100
    with Gradebook(attack_class.course.db_url, attack_class.course.course_id) as gradebook:
        submission = gradebook.find_submission(HW, "tamper_invented")
        assert "bonus_points" not in {g.name for nb in submission.notebooks for g in nb.grades}
        assert submission.max_score == gradebook.find_submission(HW, "alice").max_score


def test_invalid_json_fails_alone_with_its_reason(attack_class):
    outcome = attack_class.outcomes["tamper_json"]
    assert outcome.state == "failed" and outcome.score == 0
    assert outcome.reason.startswith("not valid JSON")
    assert attack_class.jobs["tamper_json"][0].reason == outcome.reason
    assert [a.state for a in attack_class.attempts["tamper_json"]] == ["failed"]


def test_an_nbformat_3_notebook_is_converted_and_graded_like_its_v4_twin(attack_class):
    outcome = attack_class.outcomes["tamper_nbformat3"]
    assert outcome.state == "done" and outcome.score <= attack_class.outcomes["alice"].score
    assert outcome.max_score == 100
    assert "converted from nbformat 3" in _notes(attack_class, "tamper_nbformat3")


def test_a_50_mb_notebook_is_refused_before_running_with_its_reason(attack_class):
    outcome = attack_class.outcomes["tamper_huge"]
    assert outcome.state == "failed" and outcome.score == 0
    assert outcome.reason.startswith("notebook too large")
    assert attack_class.attempts["tamper_huge"][0].reason == outcome.reason
