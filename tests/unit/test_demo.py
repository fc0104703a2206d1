"""The demo's synthetic class can be built for every homework of the course."""

import pytest

from graders import cells
from graders.authoring.demo import synthetic_notebooks
from graders.course import Course
from tests.conftest import HOMEWORKS, REPO


@pytest.mark.parametrize("hw", HOMEWORKS)
def test_every_kind_of_synthetic_student_differs_from_the_correct_one(hw):
    notebooks = {student.kind: nb for student, nb in synthetic_notebooks(Course.load(REPO), hw, hw).items()}
    assert set(notebooks) == {"correct", "partial", "wrong", "crashing", "cheating", "blank"}

    def solutions(nb):
        return [c.source for c in nb.cells if cells.is_solution(c)]

    correct = solutions(notebooks["correct"])
    for kind in ("partial", "wrong", "blank"):
        assert solutions(notebooks[kind]) != correct, kind
    assert solutions(notebooks["wrong"]) != solutions(notebooks["partial"])
    assert len(notebooks["crashing"].cells) == len(notebooks["correct"].cells) + 1
