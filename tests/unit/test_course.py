"""A homework's runner settings (`source/HW/homework.toml`): every limit configurable, typos refused."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from graders.contract import Limits
from graders.course import Course, CourseError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def course(tmp_path: Path) -> Course:
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    (tmp_path / "source" / "hw_x").mkdir(parents=True)
    return Course.load(tmp_path)


def settings(course: Course, text: str) -> None:
    course.path("source", "hw_x", "homework.toml").write_text(text)


def test_without_settings_a_homework_gets_the_default_limits(course: Course) -> None:
    homework = course.homework("hw_x")
    assert (homework.gpu, homework.limits) == ("none", Limits())
    assert homework.limits.cell_timeout_s == 30  # nbgrader's Execute.timeout


def test_every_limit_can_be_set_per_homework(course: Course) -> None:
    settings(course, 'gpu = "required"\ntimeout_s = 30\ncell_timeout_s = 2.5\ncpu_s = 20\nmemory_mb = 1024\n'
                     'processes = 16\nscratch_mb = 64\nfile_mb = 8\npreload = ["numpy"]\n')
    homework = course.homework("hw_x")
    assert homework.gpu == "required" and homework.preload == ("numpy",)
    assert homework.limits == Limits(wall_s=30, cell_timeout_s=2.5, cpu_s=20, memory_mb=1024, processes=16,
                                     scratch_mb=64, file_mb=8)


def test_the_student_files_settings_can_be_set_per_homework(course: Course) -> None:
    settings(course, 'student_may_replace = ["weights.npy", "data/*.csv"]\nextra_file_mb = 5\n'
                     'extra_files_total_mb = 20\n')
    homework = course.homework("hw_x")
    assert (homework.extra_file_mb, homework.extra_files_total_mb) == (5, 20)
    assert homework.may_replace("weights.npy") and homework.may_replace("data/train.csv")
    assert not homework.may_replace("data.csv") and not homework.may_replace("helpers/weights.npy")


def test_nbgraders_exclude_overwriting_lets_the_student_replace_a_file_too(course: Course) -> None:
    config = course.path("nbgrader_config.py")
    config.write_text(config.read_text() + '\nc.Autograde.exclude_overwriting = {"hw_x": ["model.pt"]}\n')
    assert Course.load(course.root).homework("hw_x").may_replace("model.pt")


def test_homework_files_are_all_but_notebooks_instructor_only_and_ignored_files(course: Course) -> None:
    folder = course.path("source", "hw_x")
    for name in ["hw_x.ipynb", "homework.toml", "mutants.toml", "data.csv", "img/a.png", "helpers/util.py",
                 "helpers/__pycache__/util.cpython-311.pyc", ".ipynb_checkpoints/hw_x-checkpoint.ipynb"]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")
    assert list(course.homework_files("hw_x")) == ["data.csv", "helpers/util.py", "img/a.png"]


@pytest.mark.parametrize("text, message", [
    ("memory_mbs = 1024\n", "unknown setting memory_mbs"),
    ('gpu = "always"\n', "gpu must be one of none, preferred, required"),
    ('processes = "many"\n', "limits must be numbers"),
    ("timeout_s = 0\n", "limits must be positive"),
    ("extra_file_mb = 0\n", "limits must be positive"),
    ('extra_files_total_mb = "lots"\n', "limits must be numbers"),
    ("memory_mb = 512\nextra_files_total_mb = 600\n", "extra_files_total_mb \\(600\\) must be below memory_mb"),
    ('student_may_replace = "weights.npy"\n', "student_may_replace must be a list of paths"),
    ("cell_timeout_s = -1\n", "limits must be positive"),
])
def test_a_bad_setting_is_a_one_line_error_naming_the_file(course: Course, text: str, message: str) -> None:
    settings(course, text)
    with pytest.raises(CourseError, match=message) as error:
        course.homework("hw_x")
    assert "homework.toml" in str(error.value) and "\n" not in str(error.value)


def configured(course: Course, text: str) -> Course:
    config = course.path("nbgrader_config.py")
    config.write_text(config.read_text() + "\n" + text + "\n")
    return Course.load(course.root)


def test_the_course_language_is_released_as_nbgrader_lays_it_out_and_each_other_beside(course: Course) -> None:
    course = configured(course, 'c.Graders.lang = "fr"\nc.Graders.languages = ["en", "fr"]')
    assert course.languages == ["fr", "en"]
    assert course.release_dir("hw_x") == course.release_dir("hw_x", "fr") == course.path("release", "hw_x")
    assert course.release_dir("hw_x", "en") == course.path("release", "en", "hw_x")


def test_each_student_gets_the_language_of_the_roster_else_the_courses(course: Course) -> None:
    course = configured(course, 'c.Graders.languages = ["en", "fr"]\nc.Graders.student_languages = {"amelie": "fr"}')
    assert (course.student_language("amelie"), course.student_language("bob")) == ("fr", "en")


@pytest.mark.parametrize(("text", "message"), [
    ('c.Graders.languages = ["en", "de"]', "unknown language 'de'"),
    ('c.Graders.languages = ["fr"]', "must include the course's language c.Graders.lang = 'en'"),
    ('c.Graders.student_languages = {"amelie": "fr"}', "gives amelie 'fr', not one of the course's languages (en)"),
])
def test_a_language_the_course_cannot_release_is_a_one_line_error(course: Course, text: str, message: str) -> None:
    course = configured(course, 'c.Graders.languages = ["en"]\n' + text)
    with pytest.raises(CourseError, match=re.escape(message)):
        course.student_language("amelie")


def test_a_language_named_like_a_homework_is_refused(course: Course) -> None:
    course.path("source", "fr").mkdir()
    course = configured(course, 'c.Graders.languages = ["en", "fr"]')
    with pytest.raises(CourseError, match="language 'fr' is also a homework's name"):
        course.student_language("amelie")


@pytest.mark.parametrize("lines, seconds", [
    ("", 30.0), ("c.Execute.timeout = 120", 120.0), ("c.Execute.timeout = None", None),
    ("c.Execute.timeout = -1", None),
])
def test_nbgrader_execute_timeout_is_the_course_cell_time_limit(course: Course, lines: str, seconds) -> None:
    assert configured(course, lines).cell_timeout_s == seconds


def test_a_homework_cell_time_limit_defaults_to_nbgrader_execute_timeout(course: Course) -> None:
    course = configured(course, "c.Execute.timeout = 120")
    assert course.homework("hw_x").limits.cell_timeout_s == 120
    settings(course, "cell_timeout_s = 5\n")
    assert course.homework("hw_x").limits.cell_timeout_s == 5
    settings(course, "timeout_s = 200\n")
    assert configured(course, "c.Execute.timeout = None").homework("hw_x").limits.cell_timeout_s == 200


@pytest.mark.parametrize("lines, pattern", [
    ("", ""), ('c.IgnorePattern.pattern = "NNPACK"', ""),
    ('c.IgnorePattern.enabled = True\nc.IgnorePattern.pattern = "NNPACK"', "NNPACK"),
])
def test_nbgrader_ignore_pattern_applies_only_when_enabled(course: Course, lines: str, pattern: str) -> None:
    assert configured(course, lines).ignore_stderr == pattern


@pytest.mark.parametrize("lines, message", [
    ("c.Autograde.autograde_preprocessors = []", "c.Autograde.autograde_preprocessors is set"),
    ("c.Autograde.sanitize_preprocessors = []", "c.Autograde.sanitize_preprocessors is set"),
    ("c.Autograde.create_student = False", "create_student = False is not supported"),
])
def test_nbgrader_autograde_settings_graders_does_not_follow_are_refused(course: Course, lines: str,
                                                                          message: str) -> None:
    with pytest.raises(CourseError, match=message):
        configured(course, lines).check_autograde_settings()


def test_nbgrader_autograde_defaults_written_out_are_accepted(course: Course) -> None:
    configured(course, "c.Autograde.create_student = True").check_autograde_settings()
