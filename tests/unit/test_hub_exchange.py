"""The hub service's view of the course folder: submissions stamped by the server, only known notebooks."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from nbgrader.utils import parse_utc
from tornado import web

from graders.hub.service import Exchange
from tests.conftest import REPO, new_course

HW = "hw1_backprop"


@pytest.fixture
def exchange(tmp_path: Path) -> Exchange:
    course = new_course(tmp_path / "course", HW)
    shutil.copytree(REPO / "release" / HW, course.path("release", HW))
    return Exchange(course)


def test_released_homeworks_are_the_release_folders(exchange: Exchange) -> None:
    assert exchange.released() == [HW]
    assert f"{HW}.ipynb" in exchange.release_files(HW)
    with pytest.raises(web.HTTPError) as error:
        exchange.release_files("hw3_structured")
    assert error.value.status_code == 404


def test_submission_is_stamped_with_the_server_clock_and_queued(exchange: Exchange) -> None:
    before = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=1)
    status = exchange.submit("alice", HW, {f"{HW}.ipynb": b"{}"})
    folder = exchange.course.submission_dir("alice", HW)
    stamp = parse_utc((folder / "timestamp.txt").read_text())
    assert before <= stamp <= before + timedelta(seconds=30)
    assert (folder / f"{HW}.ipynb").read_bytes() == b"{}"
    assert status["state"] == "queued" and status["student"] == "alice"
    assert exchange.status("alice", HW) == status and exchange.status("bob", HW) is None


def test_resubmission_replaces_the_previous_one(exchange: Exchange) -> None:
    exchange.submit("alice", HW, {f"{HW}.ipynb": b"first"})
    exchange.set_status("alice", HW, state="graded", score=1.0)
    exchange.submit("alice", HW, {f"{HW}.ipynb": b"second"})
    folder = exchange.course.submission_dir("alice", HW)
    assert (folder / f"{HW}.ipynb").read_bytes() == b"second"
    assert sorted(p.name for p in folder.parent.iterdir()) == [HW]  # no staging folder left behind
    assert exchange.status("alice", HW)["state"] == "queued"


@pytest.mark.parametrize("name", ["../../bob/hw1_backprop/hw1_backprop.ipynb", "timestamp.txt", "other.ipynb"])
def test_only_the_homeworks_notebooks_can_be_submitted(exchange: Exchange, name: str) -> None:
    with pytest.raises(web.HTTPError) as error:
        exchange.submit("alice", HW, {name: b"{}"})
    assert error.value.status_code == 400
    assert not exchange.course.path("submitted").exists()
