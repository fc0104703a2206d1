"""Which files a job carries: the homework's read-only, the student's within limits, every file left out noted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graders.course import Course
from graders.grading.files import homework_files, with_student_files

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def course(tmp_path: Path) -> Course:
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    folder = tmp_path / "source" / "hw_x"
    (folder / "helpers").mkdir(parents=True)
    (folder / "hw_x.ipynb").write_text("{}")
    (folder / "data.csv").write_text("a,b\n1,2\n")
    (folder / "helpers" / "util.py").write_text("X = 1\n")
    (folder / "homework.toml").write_text('student_may_replace = ["data.csv"]\nextra_file_mb = 1\n')
    return Course.load(tmp_path)


def _job_files(course: Course, files: dict[str, bytes]):  # a JobFiles
    folder = course.submission_dir("s", "hw_x")
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    homework = course.homework("hw_x")
    return with_student_files(homework_files(course, homework), folder, homework, course.ignore)


def test_homework_files_are_read_only_unless_the_student_may_replace_them(course: Course) -> None:
    files = homework_files(course, course.homework("hw_x"))
    assert [(f.path, f.read_only) for f in files.files] == [("data.csv", False), ("helpers/util.py", True)]
    assert {f.sha256 for f in files.files} == set(files.contents)


def test_the_students_copy_replaces_only_what_it_may(course: Course) -> None:
    files = _job_files(course, {"data.csv": b"mine\n", "helpers/util.py": b"X = 2\n", "timestamp.txt": b"now",
                                "other.ipynb": b"{}", "__pycache__/m.pyc": b"x"})
    by_path = {f.path: f for f in files.files}
    assert sorted(by_path) == ["data.csv", "helpers/util.py"]
    assert files.contents[by_path["data.csv"].sha256] == b"mine\n"
    assert files.contents[by_path["helpers/util.py"].sha256] == b"X = 1\n"
    assert files.notes == ("helpers/util.py differs from the homework's own copy: graded with the homework's",)


def test_an_unchanged_copy_of_a_homework_file_needs_no_note(course: Course) -> None:
    assert _job_files(course, {"helpers/util.py": b"X = 1\n"}).notes == ()


def test_links_and_files_in_the_way_of_homework_files_are_left_out_with_a_note(course: Course, tmp_path: Path) -> None:
    folder = course.submission_dir("s", "hw_x")
    folder.mkdir(parents=True)
    (folder / "keys.json").symlink_to(tmp_path / "nbgrader_config.py")
    files = _job_files(course, {"helpers": b"not a folder", "data.csv/x": b"1", "big.bin": b"0" * (1 << 20 | 1)})
    assert [f.path for f in files.files] == ["data.csv", "helpers/util.py"]
    assert files.notes == (
        "big.bin (1.0 MB) not provided to the grader: limit 1 MB per file",
        "data.csv/x not provided to the grader: the homework has a file or folder at that path",
        "helpers not provided to the grader: the homework has a file or folder at that path",
        "keys.json not provided to the grader: it is a link, not a file",
    )
