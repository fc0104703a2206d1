"""The course exchange as a JupyterHub service: fetch, submit, grade on submit, feedback.

Runs as the hub's managed service `grading` (see config/jupyterhub_config.py),
the only process that reads or writes the course folder. Who is asking comes
from the hub (an API token from the student's own server, or the hub's OAuth
cookie in a browser), never from the request, so nobody can submit as or read
for someone else. Students only reach their own submissions and feedback;
members of the `formgrade-<course>` group may pass `?student=`. Only members of
`nbgrader-<course>` (enrolled students) or staff may submit.

A submission is written to nbgrader's layout `submitted/<student>/<hw>/` with a
server timestamp and queued; one background worker grades queued submissions
in order with `graders.grading.autograde.autograde` (one student at a time, so the
grader stays within the machine's share) and records the status
(queued / grading / graded / failed with a reason) under `hub/status/`. Its
Dask runners stay up between submissions, so their sandboxed kernels stay warm
and a submission is graded in about a second instead of paying the start-up.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import httpclient, web
from tornado.ioloop import IOLoop

from graders.course import Course
from graders.grading.deadlines import due_date
from graders.hub import feedback

if TYPE_CHECKING:
    from graders.dispatch.dispatcher import Dispatcher

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's timestamp.txt format
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
GROUP_CACHE_S = 30


class Exchange:
    """The course folder as the service sees it: releases, submissions, statuses."""

    def __init__(self, course: Course) -> None:
        self.course = course
        self.state = course.path("hub")

    def released(self) -> list[str]:
        release = self.course.path("release")
        return sorted(p.name for p in release.iterdir() if p.is_dir()) if release.is_dir() else []

    def release_files(self, hw: str) -> dict[str, bytes]:
        root = self.course.path("release", self._released(hw))
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    def submit(self, student: str, hw: str, files: dict[str, bytes]) -> dict:
        """Replace `student`'s submission of `hw` by `files`, stamped with the server's clock."""
        expected = {p.name for p in self.course.path("release", self._released(hw)).glob("*.ipynb")}
        unknown = sorted(set(files) - expected)
        if unknown:
            raise web.HTTPError(400, f"not a notebook of {hw}: {', '.join(unknown)}")
        if not files:
            raise web.HTTPError(400, "no notebook in the submission")
        if any(len(data) > MAX_NOTEBOOK_BYTES for data in files.values()):
            raise web.HTTPError(413, f"a notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB")
        timestamp = datetime.now(timezone.utc).strftime(TIMESTAMP_FORMAT)
        target = self.course.submission_dir(student, hw)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{hw}-", dir=target.parent))
        staging.chmod(0o2770)  # mkdtemp makes it 0700: staff (formgrader) must read it too
        for name, data in files.items():
            (staging / name).write_bytes(data)
        (staging / "timestamp.txt").write_text(timestamp)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        return self.set_status(student, hw, state="queued", timestamp=timestamp, reason=None)

    def status(self, student: str, hw: str) -> dict | None:
        path = self._status_path(student, hw)
        return json.loads(path.read_text()) if path.is_file() else None

    def set_status(self, student: str, hw: str, **changes: object) -> dict:
        status = {**(self.status(student, hw) or {"assignment_id": hw, "student": student}), **changes}
        path = self._status_path(student, hw)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status))
        tmp.replace(path)
        return status

    def students(self) -> list[str]:
        root = self.state / "status"
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def feedback(self, student: str, hw: str, *, reveal: bool = False) -> list[dict]:
        folder = self.course.autograded_dir(student, hw)
        return [feedback.build(folder / f"{nb}.ipynb", reveal=reveal)
                for nb in self.course.notebooks(hw) if (folder / f"{nb}.ipynb").is_file()]

    def _released(self, hw: str) -> str:
        if hw not in self.released():
            raise web.HTTPError(404, f"{hw} is not released")
        return hw

    def _status_path(self, student: str, hw: str) -> Path:
        return self.state / "status" / student / f"{hw}.json"


class GradingQueue:
    """Grades submissions one at a time in a background thread, newest files of each student."""

    def __init__(self, exchange: Exchange, workers: int = 1) -> None:
        self.exchange = exchange
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grader")
        self.pending: set[tuple[str, str]] = set()
        self._runners: Dispatcher | None = None  # opened by the first grading, kept warm

    def close(self) -> None:
        """Stop the runners (after the pool has finished its grading)."""
        if self._runners is not None:
            self._runners.close()
            self._runners = None

    def enqueue(self, student: str, hw: str) -> None:
        if (student, hw) in self.pending:  # the queued job will read the newest files anyway
            return
        self.pending.add((student, hw))
        IOLoop.current().run_in_executor(self.pool, self.grade, student, hw)

    def resume(self) -> None:
        """Queue again what a stopped service left queued or grading."""
        for student in self.exchange.students():
            for hw in self.exchange.released():
                status = self.exchange.status(student, hw)
                if status and status["state"] in ("queued", "grading"):
                    self.enqueue(student, hw)

    def grade(self, student: str, hw: str) -> None:
        """Grade `student`'s current submission of `hw` and record its status (runs in the worker thread)."""
        from graders.dispatch.dispatcher import Dispatcher
        from graders.grading.autograde import autograde  # heavy (nbgrader, dask): loaded by the worker thread

        self.pending.discard((student, hw))
        exchange = self.exchange
        stamp = exchange.set_status(student, hw, state="grading", started=_now())["timestamp"]
        try:
            if self._runners is None:
                self._runners = Dispatcher(self.workers).open()
            outcomes = autograde(exchange.course, hw, students=[student], dispatcher=self._runners)
        except Exception as exc:  # noqa: BLE001 - any failure becomes the student's visible reason
            outcomes, error = [], f"{type(exc).__name__}: {exc}"
            self.close()  # the next grading starts fresh runners, in case these were the problem
        else:
            error = None
        if exchange.status(student, hw)["timestamp"] != stamp:
            return  # resubmitted meanwhile: that one is queued and its grading will report
        if error:
            exchange.set_status(student, hw, state="failed", reason=error, finished=_now())
            return
        failed = [o for o in outcomes if o.state == "failed"]
        scored = [o for o in outcomes if o.score is not None]
        # An unchanged resubmission is skipped by autograde: it keeps the score already in its status.
        score = {"score": sum(o.score for o in scored), "max_score": sum(o.max_score or 0 for o in scored)} \
            if scored else {}
        exchange.set_status(student, hw, state="failed" if failed else "graded", finished=_now(),
                            reason="; ".join(f"{o.notebook}: {o.reason}" for o in failed) or None, **score)


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    @property
    def exchange(self) -> Exchange:
        return self.settings["exchange"]

    async def groups(self, user: dict) -> list[str]:
        """`user`'s hub groups, asked of the hub (cached briefly)."""
        cache = self.settings["group_cache"]
        name = user["name"]
        if name not in cache or cache[name][0] < time.monotonic():
            url = url_path_join(self.hub_auth.api_url, "users", name)
            response = await httpclient.AsyncHTTPClient().fetch(
                url, headers={"Authorization": f"token {self.hub_auth.api_token}"})
            cache[name] = (time.monotonic() + GROUP_CACHE_S, json.loads(response.body).get("groups", []))
        return cache[name][1]

    async def staff(self, user: dict) -> bool:
        """Whether `user` is in the course's formgrader group."""
        return f"formgrade-{self.exchange.course.course_id}" in await self.groups(user)

    async def target_student(self) -> str:
        """The student a request is about: oneself, or anyone for staff."""
        user = self.current_user
        asked = self.get_argument("student", user["name"])
        if asked != user["name"] and not await self.staff(user):
            raise web.HTTPError(403, "only course staff may look at another student")
        if not NAME.match(asked):
            raise web.HTTPError(400, "bad student name")
        return asked

    def reveal(self, hw: str) -> bool:
        due = due_date(self.exchange.course, hw)
        now = datetime.now(timezone.utc).replace(tzinfo=None)  # due dates are naive UTC
        return self.settings["reveal_after_due"] and due is not None and now > due

    def write_json(self, data: object) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))


class AssignmentsHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        student = await self.target_student()
        self.write_json([{"course_id": self.exchange.course.course_id, "assignment_id": hw,
                          "status": self.exchange.status(student, hw)} for hw in self.exchange.released()])


class ReleaseHandler(BaseHandler):
    @web.authenticated
    def get(self, hw: str) -> None:
        files = self.exchange.release_files(hw)
        self.write_json({name: base64.b64encode(data).decode() for name, data in files.items()})


class SubmitHandler(BaseHandler):
    @web.authenticated
    async def post(self, hw: str) -> None:
        # Only tokens may submit: a browser cookie alone must not be able to (no cross-site submissions).
        if not self.request.headers.get("Authorization"):
            raise web.HTTPError(403, "submit with an API token")
        try:
            files = {name: base64.b64decode(data) for name, data in json.loads(self.request.body)["files"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise web.HTTPError(400, "body must be {\"files\": {name: base64}}") from None
        student = self.current_user["name"]
        enrolled = {f"{kind}-{self.exchange.course.course_id}" for kind in ("nbgrader", "formgrade")}
        if not enrolled & set(await self.groups(self.current_user)):
            raise web.HTTPError(403, f"{student} is not enrolled in {self.exchange.course.course_id}")
        status = self.exchange.submit(student, hw, files)
        self.settings["queue"].enqueue(student, hw)
        self.write_json(status)


class FeedbackHandler(BaseHandler):
    @web.authenticated
    async def get(self, hw: str) -> None:
        student = await self.target_student()
        self.exchange._released(hw)
        status = self.exchange.status(student, hw)
        if status is None:
            raise web.HTTPError(404, f"no submission of {hw} by {student}")
        notebooks = self.exchange.feedback(student, hw, reveal=self.reveal(hw)) \
            if status.get("state") in ("graded", "failed") else []
        if self.get_argument("format", "json") == "html" or "text/html" in self.request.headers.get("Accept", ""):
            self.finish(feedback.to_html(hw, notebooks, status))
        else:
            self.write_json({"status": status, "notebooks": notebooks})


class HomeHandler(BaseHandler):
    """A page listing one's submissions (or, for staff, everyone's) with their status and score."""

    @web.authenticated
    async def get(self) -> None:
        user = self.current_user
        staff = await self.staff(user)
        students = self.exchange.students() if staff else [user["name"]]
        rows = []
        for student in students:
            for hw in self.exchange.released():
                status = self.exchange.status(student, hw)
                if status is None:
                    continue
                score = "" if status.get("score") is None else f"{status['score']:g} / {status['max_score']:g}"
                link = url_path_join(self.settings["prefix"], "feedback", hw) + f"?student={student}"
                rows.append(f"<tr class='submission' data-student='{student}' data-hw='{hw}'><td>{student}</td>"
                            f"<td>{hw}</td><td>{status.get('timestamp', '')}</td><td class='state'>"
                            f"{status['state']}</td><td class='score'>{score}</td>"
                            f"<td>{feedback._e(status.get('reason') or '')}</td>"
                            f"<td><a href='{link}'>feedback</a></td></tr>")
        self.finish("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grading</title>"
                    "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px}"
                    "</style></head><body>"
                    f"<h1>Submissions ({'all students' if staff else user['name']})</h1><table id='submissions'>"
                    "<tr><th>student</th><th>homework</th><th>submitted (server time)</th><th>status</th>"
                    f"<th>score</th><th>reason</th><th></th></tr>{''.join(rows)}</table></body></html>")


def make_app(course: Course, *, prefix: str, reveal_after_due: bool,
             workers: int = 1) -> web.Application:
    exchange = Exchange(course)
    return web.Application([
        (prefix, HomeHandler),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        (url_path_join(prefix, "api/assignments"), AssignmentsHandler),
        (url_path_join(prefix, r"api/assignments/([^/]+)/release"), ReleaseHandler),
        (url_path_join(prefix, r"api/assignments/([^/]+)/submit"), SubmitHandler),
        (url_path_join(prefix, r"api/assignments/([^/]+)/feedback"), FeedbackHandler),
        (url_path_join(prefix, r"feedback/([^/]+)"), FeedbackHandler),
    ], exchange=exchange, queue=GradingQueue(exchange, workers), group_cache={},
        reveal_after_due=reveal_after_due, prefix=prefix, cookie_secret=os.urandom(32))


def _now() -> str:
    return datetime.now(timezone.utc).strftime(TIMESTAMP_FORMAT)


def main() -> None:
    parser = argparse.ArgumentParser(description="graders exchange + grade-on-submit JupyterHub service")
    parser.add_argument("--course", required=True, help="course folder (nbgrader_config.py)")
    parser.add_argument("--reveal-after-due", action="store_true",
                        help="show test source in feedback once the due date has passed")
    parser.add_argument("--workers", type=int, default=1, help="Dask workers kept warm for grading (at most 2 here)")
    args = parser.parse_args()
    # Files written here are shared with the staff group (setgid course folder), never with others.
    os.umask(0o007)
    course = Course.load(args.course)
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    app = make_app(course, prefix=prefix, reveal_after_due=args.reveal_after_due, workers=args.workers)
    url = os.environ["JUPYTERHUB_SERVICE_URL"]
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    app.listen(int(port), address=host)
    loop = IOLoop.current()
    app.settings["queue"].resume()
    # Explicit handlers: a service started from a non-interactive shell inherits SIGINT ignored,
    # and the hub stops its services with SIGINT.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: loop.add_callback_from_signal(loop.stop))
    loop.start()
    app.settings["queue"].pool.shutdown(wait=True, cancel_futures=True)  # a grading in progress ends first
    app.settings["queue"].close()


if __name__ == "__main__":
    main()
