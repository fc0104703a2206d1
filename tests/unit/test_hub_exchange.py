"""The hub service's view of the course folder: submissions stamped by the server, only known notebooks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import queue
import shutil
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.abc.exchange import ExchangeError
from nbgrader.utils import parse_utc
from tornado import web
from tornado.ioloop import IOLoop

from graders.grading.files import MIB
from graders.hub.exchange import HubExchange, HubSubmit
from graders.hub.service import MAX_NOTEBOOK_BYTES, BaseHandler, Exchange, max_request_bytes
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


def test_the_students_other_files_are_kept_beside_the_notebook(exchange: Exchange) -> None:
    exchange.submit("alice", HW, {f"{HW}.ipynb": b"{}", "weights.npy": b"w" * 1000, "runs/log.txt": b"epoch 1",
                                  "scratch.ipynb": b"{}"})
    folder = exchange.course.submission_dir("alice", HW)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == \
        [f"{HW}.ipynb", "runs/log.txt", "scratch.ipynb", "timestamp.txt", "weights.npy"]
    assert (folder / "runs" / "log.txt").read_bytes() == b"epoch 1"


@pytest.mark.parametrize("name", ["../../bob/hw1_backprop/hw1_backprop.ipynb", "/etc/cron.d/x", "runs/../../x",
                                  "./weights.npy", "runs//log.txt", "runs\\log.txt", "", "timestamp.txt", "runs"])
def test_a_path_out_of_the_submission_or_the_servers_stamp_is_refused(exchange: Exchange, name: str) -> None:
    with pytest.raises(web.HTTPError) as error:
        exchange.submit("alice", HW, {f"{HW}.ipynb": b"{}", "runs/log.txt": b"", name: b"x"})
    assert error.value.status_code == 400
    assert error.value.log_message == f"not a file a submission may hold: {name}"
    assert not exchange.course.path("submitted").exists()


def test_a_submission_without_the_homeworks_notebook_is_refused(exchange: Exchange) -> None:
    with pytest.raises(web.HTTPError) as error:
        exchange.submit("alice", HW, {"other.ipynb": b"{}", "weights.npy": b""})
    assert (error.value.status_code, error.value.log_message) == (400, f"no notebook of {HW} in the submission")
    assert not exchange.course.path("submitted").exists()


def test_other_files_far_over_the_graders_limit_are_refused_in_one_line(exchange: Exchange) -> None:
    """The grader takes 1 MB of them (extra_files_total_mb): the service keeps up to twice that, so a little
    over is graded with notes naming what was left out (graders.grading.files), far over is refused."""
    exchange.course.path("source", HW, "homework.toml").write_text("extra_files_total_mb = 1\nextra_file_mb = 1\n")
    exchange.submit("alice", HW, {f"{HW}.ipynb": b"{}", "a.npy": bytes(MIB), "b.npy": bytes(MIB)})
    with pytest.raises(web.HTTPError) as error:
        exchange.submit("bob", HW, {f"{HW}.ipynb": b"{}", "a.npy": bytes(MIB), "b.npy": bytes(MIB + 1)})
    assert (error.value.status_code, error.value.log_message) == (
        413, f"{HW} not submitted: your other files come to 2.0 MB, over the 2 MB a submission may hold: "
             f"hand in only what the notebook reads")
    assert not exchange.course.submission_dir("bob", HW).exists()


def test_the_service_reads_a_request_as_large_as_the_largest_submission_a_homework_takes(exchange: Exchange) -> None:
    exchange.course.path("source", HW, "homework.toml").write_text("extra_files_total_mb = 300\n")
    largest = 2 * 300 * MIB + MAX_NOTEBOOK_BYTES  # hw1 has one notebook
    assert max_request_bytes(exchange.course) == largest * 4 // 3 + MIB  # base64 in JSON


class Refusing(BaseHandler):
    """The service's handlers' error path (BaseHandler.write_error), without the hub's login."""

    def post(self, hw: str) -> None:
        raise web.HTTPError(403, f"{hw} not submitted: all 2 submissions used")


class Recording(web.RequestHandler):
    """A service that accepts every submission and keeps what it was sent."""

    bodies: list[dict] = []

    def post(self, hw: str) -> None:
        Recording.bodies.append(json.loads(self.request.body))
        self.write({"timestamp": "2026-11-20 12:00:00.000000 UTC", "state": "queued"})


@contextlib.contextmanager
def service(handler: type[web.RequestHandler]) -> Iterator[str]:
    """`handler` at api/assignments/<hw>/submit of a tornado server in a thread; its base URL."""
    started: queue.Queue = queue.Queue()

    def serve() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        server = web.Application([(r"/api/assignments/([^/]+)/submit", handler)]).listen(0, "127.0.0.1")
        loop = IOLoop.current()
        started.put((loop, next(iter(server._sockets.values())).getsockname()[1]))
        loop.start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    loop, port = started.get(timeout=30)
    yield f"http://127.0.0.1:{port}/"
    loop.add_callback(loop.stop)
    thread.join(timeout=30)


@pytest.fixture
def refusing_service() -> Iterator[str]:
    with service(Refusing) as url:
        yield url


def test_submit_hands_in_the_files_beside_the_notebook_as_nbgraders_exchange_does(tmp_path: Path) -> None:
    """Everything in the homework's folder but nbgrader's CourseDirectory.ignore globs (checkpoints, caches,
    fetched feedback); a link out of the folder stays behind, with a warning in the server's log."""
    folder = tmp_path / HW
    for path, data in {f"{HW}.ipynb": b"{}", "weights.npy": b"\x93NUMPY", "lib/helper.py": b"K = 2",
                       ".ipynb_checkpoints/x-checkpoint.ipynb": b"{}", "lib/__pycache__/helper.pyc": b"",
                       "feedback/2026-11-20 12:00:00 UTC/x.html": b""}.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    (tmp_path / "secret.txt").write_text("not for the grader")
    (folder / "secret.txt").symlink_to(tmp_path / "secret.txt")
    (folder / "inside.npy").symlink_to(folder / "weights.npy")
    coursedir = CourseDirectory(assignment_id=HW)
    Recording.bodies.clear()
    with service(Recording) as url:
        HubSubmit(coursedir=coursedir, service_url=url, assignment_dir=str(tmp_path)).copy_files()
    (body,) = Recording.bodies
    sent = {path: base64.b64decode(data) for path, data in body["files"].items()}
    assert sent == {f"{HW}.ipynb": b"{}", "inside.npy": b"\x93NUMPY", "lib/helper.py": b"K = 2",
                    "weights.npy": b"\x93NUMPY"}


def test_a_refusal_reaches_the_assignments_tab_as_the_services_one_line(refusing_service: str) -> None:
    with pytest.raises(ExchangeError) as error:
        HubExchange(service_url=refusing_service).call("POST", f"api/assignments/{HW}/submit", {"files": {}})
    assert str(error.value) == f"{HW} not submitted: all 2 submissions used"
