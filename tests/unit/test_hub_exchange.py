"""The hub service's view of the course folder: submissions stamped by the server, only known notebooks."""

from __future__ import annotations

import asyncio
import queue
import shutil
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from nbgrader.exchange.abc.exchange import ExchangeError
from nbgrader.utils import parse_utc
from tornado import web
from tornado.ioloop import IOLoop

from graders.hub.exchange import HubExchange
from graders.hub.service import BaseHandler, Exchange
from tests.conftest import REPO, new_course

HW = "hw1_backprop"


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[Exchange]:
    course = new_course(tmp_path / "course", HW)
    shutil.copytree(REPO / "release" / HW, course.path("release", HW))
    exchange = Exchange(course)
    yield exchange
    exchange.close()


def test_released_homeworks_are_the_release_folders(exchange: Exchange) -> None:
    assert exchange.released() == [HW]
    assert f"{HW}.ipynb" in exchange.release_files("alice", HW)
    with pytest.raises(web.HTTPError) as error:
        exchange.release_files("alice", "hw3_structured")
    assert error.value.status_code == 404


def test_submission_is_stamped_with_the_server_clock_and_queued(exchange: Exchange) -> None:
    before = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=1)
    status = exchange.submit("alice", HW, {f"{HW}.ipynb": b"{}"})
    folder = exchange.course.submission_dir("alice", HW)
    stamp = parse_utc((folder / "timestamp.txt").read_text())
    assert before <= stamp <= before + timedelta(seconds=30)
    assert (folder / f"{HW}.ipynb").read_bytes() == b"{}"
    assert status["state"] == "queued" and status["student"] == "alice"
    assert parse_utc(status["timestamp"]) == stamp  # the record and timestamp.txt say the same
    assert exchange.status("alice", HW) == status and exchange.status("bob", HW) is None
    assert not exchange.course.path("hub").exists()  # no status file: the database has it


def test_a_submission_in_the_folder_that_the_database_lacks_is_recorded_and_waits(exchange: Exchange) -> None:
    """What an older version (status files) or a crash between the files and the record left behind."""
    exchange.submit("alice", HW, {f"{HW}.ipynb": b"{}"})
    folder = exchange.course.submission_dir("bob", HW)
    folder.mkdir(parents=True)
    (folder / f"{HW}.ipynb").write_bytes(b"{}")
    (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    assert exchange.status("bob", HW) is None
    assert exchange.waiting() == [("alice", HW), ("bob", HW)]
    assert exchange.status("bob", HW)["timestamp"] == "2026-11-20 12:00:00.000000 UTC"
    assert exchange.waiting() == [("alice", HW), ("bob", HW)]  # recorded once
    assert exchange.students() == ["alice", "bob"]


def test_resubmission_replaces_the_previous_one(exchange: Exchange) -> None:
    first = exchange.submit("alice", HW, {f"{HW}.ipynb": b"first"})
    second = exchange.submit("alice", HW, {f"{HW}.ipynb": b"second"})
    folder = exchange.course.submission_dir("alice", HW)
    assert (folder / f"{HW}.ipynb").read_bytes() == b"second"
    assert sorted(p.name for p in folder.parent.iterdir()) == [HW]  # no staging folder left behind
    assert exchange.status("alice", HW) == second and second["timestamp"] > first["timestamp"]


@pytest.mark.parametrize("name", ["../../bob/hw1_backprop/hw1_backprop.ipynb", "timestamp.txt", "other.ipynb"])
def test_only_the_homeworks_notebooks_can_be_submitted(exchange: Exchange, name: str) -> None:
    with pytest.raises(web.HTTPError) as error:
        exchange.submit("alice", HW, {name: b"{}"})
    assert error.value.status_code == 400
    assert not exchange.course.path("submitted").exists()


class Refusing(BaseHandler):
    """The service's handlers' error path (BaseHandler.write_error), without the hub's login."""

    def post(self, hw: str) -> None:
        raise web.HTTPError(403, f"{hw} not submitted: all 2 submissions used")


@pytest.fixture
def refusing_service() -> Iterator[str]:
    started: queue.Queue = queue.Queue()

    def serve() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        server = web.Application([(r"/api/assignments/([^/]+)/submit", Refusing)]).listen(0, "127.0.0.1")
        loop = IOLoop.current()
        started.put((loop, next(iter(server._sockets.values())).getsockname()[1]))
        loop.start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    loop, port = started.get(timeout=30)
    yield f"http://127.0.0.1:{port}/"
    loop.add_callback(loop.stop)
    thread.join(timeout=30)


def test_a_refusal_reaches_the_assignments_tab_as_the_services_one_line(refusing_service: str) -> None:
    with pytest.raises(ExchangeError) as error:
        HubExchange(service_url=refusing_service).call("POST", f"api/assignments/{HW}/submit", {"files": {}})
    assert str(error.value) == f"{HW} not submitted: all 2 submissions used"
