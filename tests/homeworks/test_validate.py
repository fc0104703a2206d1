"""Every homework validates itself in CI: the solution earns full marks, the blank release
earns nothing, and every known-wrong solution loses points on what it breaks."""

import pytest

from graders.authoring.validate import validate
from tests.conftest import HOMEWORKS, REPO, new_course


@pytest.mark.slow
@pytest.mark.parametrize("hw", HOMEWORKS)
def test_homework_validates(hw, tmp_path):
    course = new_course(tmp_path / "course", hw)
    cases = validate(course, hw, workers=2)
    failed = [f"{c.name}: {c.score:g}/{c.max_score:g} {c.detail}" for c in cases if not c.ok]
    assert not failed, "\n".join(failed)
    assert cases[0].score == cases[0].max_score > 0
    assert sum(c.expectation == "loses points" for c in cases) >= 6


@pytest.mark.parametrize("hw", HOMEWORKS)
def test_committed_release_is_in_sync_with_source(hw):
    from graders.authoring.generate import stale_files
    from graders.course import Course

    assert stale_files(Course.load(REPO), hw) == []
