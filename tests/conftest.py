"""Shared fixtures: throwaway courses made from this repository's homeworks.

A course fixture copies `nbgrader_config.py` and the chosen `source/<hw>/` into a
temporary folder, so every test has its own gradebook, keys and runtime folders.
Generating a homework (release + keys) runs its instructor solution, so it is
done once per session and copied.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graders.course import Course
from graders.generate import generate

REPO = Path(__file__).resolve().parent.parent


def new_course(folder: Path, *homeworks: str) -> Course:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", folder / "nbgrader_config.py")
    for hw in homeworks:
        shutil.copytree(REPO / "source" / hw, folder / "source" / hw)
    return Course.load(folder)


def copy_course(course: Course, folder: Path) -> Course:
    """A copy of a generated course (source, release, keys and gradebook), to change freely."""
    shutil.copytree(course.root, folder)
    return Course.load(folder)


@pytest.fixture(scope="session")
def hw1_generated(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """A course with hw1_backprop released and keyed (do not modify: use `hw1_course`)."""
    course = new_course(tmp_path_factory.mktemp("hw1-generated") / "course", "hw1_backprop")
    generate(course, "hw1_backprop")
    return course


@pytest.fixture
def hw1_course(hw1_generated: Course, tmp_path: Path) -> Course:
    """A private, already generated copy of the hw1_backprop course."""
    return copy_course(hw1_generated, tmp_path / "course")
