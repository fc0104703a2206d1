"""The course exchange as a JupyterHub service: fetch, submit, grade on submit, feedback.

Runs as the hub's managed service `grading` (see config/jupyterhub_config.py),
the only process that reads or writes the course folder. Who is asking comes
from the hub (an API token from the student's own server, or the hub's OAuth
cookie in a browser), never from the request, so nobody can submit as or read
for someone else. Students only reach their own submissions and feedback;
members of the `formgrade-<course>` group may pass `?student=`. Only members of
`nbgrader-<course>` (enrolled students) or staff may submit.

A submission is written to nbgrader's layout `submitted/<student>/<hw>/` with a
server timestamp and recorded in the database (`graders_submission`), so it is
visibly queued before anything grades it. One background worker grades queued
submissions in order with `graders.grading.autograde.autograde` (one student at a
time, so the grader stays within the machine's share). The service keeps no state
of its own: a submission's state (queued / grading / graded / failed with a
reason), its score with the late penalty and its feedback are read from the
database each time (graders.hub.submissions), and after a restart it grades what
the database says is still waiting. Its Dask runners stay up between submissions,
so their sandboxed kernels stay warm and a submission is graded in about a second
instead of paying the start-up.

Each student fetches a homework in their language (the course's roster,
Course.student_language), and a hand-in is accepted only as the homework's submission
policy allows (graders.store.policies: how many, how often, until when); the list of
homeworks says where the student stands, and a refusal is one line the exchange shows.

What people read comes through graders.hub.pages: the home page, a submission's
feedback and error pages are Jinja2 templates, escaped, in the reader's language;
`api/grades` gives the student's Jupyter (graders.hub.serverext and its front end)
each homework's state, score, policy and feedback link, in the student's words.
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
from asyncio import Future
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import httpclient, web
from tornado.ioloop import IOLoop
from tornado.log import app_log

from graders import i18n
from graders.course import Course, CourseError, Homework
from graders.grading.deadlines import due_date
from graders.grading.files import MIB
from graders.grading.submission import autograded_job
from graders.hub import feedback, pages, submissions
from graders.states import SubmissionState
from graders.store import Store, policies
from graders.store.gradebook import cell_marks
from graders.store.records import graded_job

if TYPE_CHECKING:
    from graders.dispatch.dispatcher import Dispatcher

MAX_NOTEBOOK_BYTES = 20 * MIB
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
GROUP_CACHE_S = 30


def stored_files_limit(homework: Homework) -> int:
    """Bytes of a student's other files (not the notebooks) that one submission of `homework` may hold: twice
    what the grader is given (`extra_files_total_mb`), so that a submission a little over the grader's limits
    is graded with notes naming what was left out, and one far over them is refused at once."""
    return 2 * homework.extra_files_total_mb * MIB


def max_request_bytes(course: Course) -> int:
    """The largest submission request the service reads (base64 in JSON: 4/3 of the bytes, and 1 MiB to spare)
    over the course's homeworks; tornado's default (100 MiB) would cut the connection without a word."""
    largest = MAX_NOTEBOOK_BYTES
    for hw in course.assignments():
        try:
            homework = course.homework(hw)
        except CourseError as error:  # its submissions are refused when they come (Exchange.submit)
            app_log.warning("%s", error)
            continue
        largest = max(largest, stored_files_limit(homework) + MAX_NOTEBOOK_BYTES * len(course.notebooks(hw)))
    return largest * 4 // 3 + MIB


def _plain_path(name: str) -> bool:
    """A relative POSIX path with no `.`, `..` or empty part: it stays inside the submission folder."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and path.as_posix() == name and "\\" not in name \
        and not {".", ".."} & set(path.parts)


class Exchange:
    """The course as the service sees it: releases and submissions in its folder, their status in its database."""

    def __init__(self, course: Course) -> None:
        self.course = course
        self.store = Store(course.db_url, course.course_id)

    def close(self) -> None:
        self.store.close()

    def released(self) -> list[str]:
        """The homeworks released in the course's language (release/<hw>/)."""
        return [hw for hw in self.course.assignments() if self.course.release_dir(hw).is_dir()]

    def release_files(self, student: str, hw: str) -> dict[str, bytes]:
        """The files of `hw` as released in `student`'s language (Course.student_language), by relative path."""
        lang = self.course.student_language(student)
        root = self.course.release_dir(self._released(hw), lang)
        if not root.is_dir():
            raise web.HTTPError(404, f"{hw} is not released in {lang} yet: ask your teacher")
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    def policy(self, student: str, hw: str) -> dict:
        """Where `student` stands under `hw`'s submission policy now, as graders.grading.policy.Standing.as_dict."""
        with self.store.session() as session:
            return policies.standing(session, self.course, hw, student).as_dict()

    def submit(self, student: str, hw: str, files: dict[str, bytes]) -> dict:
        """Replace `student`'s submission of `hw` by `files` (by relative POSIX path: the homework's notebooks
        and the student's other files, as graders.hub.exchange.submission_files hands them in), stamped with
        the server's clock, and record it.

        Refused with a one-line reason: HTTP 400 without one of the homework's notebooks or with a path that
        is not a plain relative one; 413 when a notebook is over MAX_NOTEBOOK_BYTES or the other files
        together are over `stored_files_limit`; 403, or 429 when waiting helps, when the homework's
        submission policy does not accept one more hand-in now. Which of the other files the grader is
        given is decided when grading (graders.grading.files), with a note for each one left out.
        """
        expected = {p.name for p in self.course.release_dir(self._released(hw)).glob("*.ipynb")}
        bad = sorted(name for name in files if not _plain_path(name) or name == "timestamp.txt"
                     or any(other.startswith(f"{name}/") for other in files))
        if bad:
            raise web.HTTPError(400, f"not a file a submission may hold: {', '.join(bad)}")
        notebooks = set(files) & expected
        if not notebooks:
            raise web.HTTPError(400, f"no notebook of {hw} in the submission")
        if any(len(files[name]) > MAX_NOTEBOOK_BYTES for name in notebooks):
            raise web.HTTPError(413, f"a notebook is larger than {MAX_NOTEBOOK_BYTES // MIB} MiB")
        others = sum(len(data) for name, data in files.items() if name not in notebooks)
        try:
            limit = stored_files_limit(self.course.homework(hw))
        except CourseError as error:
            app_log.error("%s", error)
            raise web.HTTPError(500, f"{hw} not submitted: its settings cannot be read: tell your teacher") from None
        if others > limit:
            raise web.HTTPError(413, f"{hw} not submitted: your other files come to {others / MIB:.1f} MB, over the "
                                     f"{limit // MIB} MB a submission may hold: hand in only what the notebook reads")
        now = datetime.now(timezone.utc)
        with self.store.session() as session:
            standing = policies.standing(session, self.course, hw, student, now.replace(tzinfo=None))
        if standing.refusal:
            raise web.HTTPError(429 if standing.next_allowed_at else 403, f"{hw} not submitted: {standing.refusal}")
        target = self.course.submission_dir(student, hw)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{hw}-", dir=target.parent))
        staging.chmod(0o2770)  # mkdtemp makes it 0700: staff (formgrader) must read it too
        for name, data in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        (staging / "timestamp.txt").write_text(now.strftime(submissions.TIMESTAMP_FORMAT))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        # after the files: a crash in between leaves files that `waiting` records (adopts) at the next start
        with self.store.session() as session:
            submissions.record(session, self.course, hw, student, now)
            return submissions.status(session, self.course, hw, student).as_dict()

    def status(self, student: str, hw: str) -> dict | None:
        """`student`'s newest submission of `hw` as submissions.SubmissionStatus.as_dict, or None."""
        with self.store.session() as session:
            found = submissions.status(session, self.course, hw, student)
        return found.as_dict() if found else None

    def students(self) -> list[str]:
        with self.store.session() as session:
            return submissions.students(session)

    def waiting(self) -> list[tuple[str, str]]:
        """(student, homework) of the submissions still to grade, after adopting those the database lacks."""
        with self.store.session() as session:
            submissions.adopt(session, self.course, self.released())
        with self.store.session() as session:
            return submissions.waiting(session)

    def feedback(self, student: str, hw: str, *, lang: str = "en", reveal: bool = False) -> list[dict]:
        """Feedback (graders.hub.feedback.build) of each notebook whose autograded notebook was written by the
        grading that stands for it, with the gradebook's points and comments, its sentences in `lang`."""
        folder = self.course.autograded_dir(student, hw)
        found = []
        with self.store.session() as session:
            for nb in self.course.notebooks(hw):
                job = graded_job(session, hw, student, nb)
                if job is not None and autograded_job(folder / f"{nb}.ipynb") == job.id:
                    found.append(feedback.build(folder / f"{nb}.ipynb", lang=lang, reveal=reveal,
                                                marks=cell_marks(session, hw, student, nb)))
        return found

    def _released(self, hw: str) -> str:
        if hw not in self.released():
            raise web.HTTPError(404, f"{hw} is not released")
        return hw


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

    def enqueue(self, student: str, hw: str) -> Future | None:
        """Grade `student`'s `hw` in the worker thread; None when it is queued already."""
        if (student, hw) in self.pending:  # the queued grading will read the newest files anyway
            return None
        self.pending.add((student, hw))
        return IOLoop.current().run_in_executor(self.pool, self.grade, student, hw)

    def resume(self) -> list[Future]:
        """Queue what the database says still waits: queued submissions, and gradings a stopped service left."""
        return [future for student, hw in self.exchange.waiting() if (future := self.enqueue(student, hw))]

    def grade(self, student: str, hw: str) -> None:
        """Grade `student`'s current submission of `hw` (runs in the worker thread); the result is in the database.

        An error that stops the grading is recorded by autograde as its jobs' reason, so the student sees it.
        """
        from graders.dispatch.dispatcher import Dispatcher
        from graders.grading.autograde import autograde  # heavy (nbgrader, dask): loaded by the worker thread

        self.pending.discard((student, hw))
        try:
            if self._runners is None:
                self._runners = Dispatcher(self.workers).open()
            autograde(self.exchange.course, hw, students=[student], dispatcher=self._runners)
        except Exception:  # noqa: BLE001 - the queue goes on with the next submission
            app_log.exception("grading %s's %s failed", student, hw)
            self.close()  # the next grading starts fresh runners, in case these were the problem


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
        """Whether `hw`'s feedback shows its test code: after the due date, if the homework (else the service)
        says so."""
        course = self.exchange.course
        allowed = course.homework(hw).reveal_after_due
        due = due_date(course, hw)
        now = datetime.now(timezone.utc).replace(tzinfo=None)  # due dates are naive UTC
        return (self.settings["reveal_after_due"] if allowed is None else allowed) and due is not None and now > due

    @property
    def lang(self) -> str:
        """The language of the pages for the user asking (in their catalog's languages, else English)."""
        return i18n.supported(self.exchange.course.student_language(self.current_user["name"])) \
            if self.current_user else self.exchange.course.default_lang

    def write_json(self, data: object) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: object) -> None:
        """An error as JSON for the API (`{"status": ..., "message": ...}`: the one line the exchange shows in the
        student's Assignments tab), else as a page (templates/error.html)."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = error.log_message if isinstance(error, web.HTTPError) and error.log_message else ""
        if "/api/" in self.request.path:
            self.write_json({"status": status_code, "message": message or self._reason})
            return
        self.write_page(pages.render("error.html", self.exchange.course.default_lang, status_code=status_code,
                                     title=self._reason, message=message))

    def write_page(self, page: str) -> None:
        """A page that graders.hub.pages rendered."""
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(page)

    def feedback_url(self, hw: str, student: str | None = None) -> str:
        url = url_path_join(self.settings["prefix"], "feedback", hw)
        return url + (f"?{urlencode({'student': student})}" if student else "")


class AssignmentsHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        self.write_json(self.assignments(await self.target_student()))

    def assignments(self, student: str) -> list[dict]:
        """Each released homework with `student`'s submission status (None: none yet), as the exchange and
        the student's Jupyter read it; a submission policy, when the homework has one, under "policy"."""
        lang = self.exchange.course.student_language(student)
        return [{"course_id": self.exchange.course.course_id, "assignment_id": hw, "lang": lang,
                 "status": self.exchange.status(student, hw), "policy": self.exchange.policy(student, hw)}
                for hw in self.exchange.released()]


class ReleaseHandler(BaseHandler):
    @web.authenticated
    def get(self, hw: str) -> None:
        files = self.exchange.release_files(self.current_user["name"], hw)
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
    """A submission's feedback: a page (templates/feedback.html), or JSON for the Assignments tab's exchange."""

    @web.authenticated
    async def get(self, hw: str) -> None:
        student = await self.target_student()
        self.exchange._released(hw)
        status = self.exchange.status(student, hw)
        if status is None:
            raise web.HTTPError(404, f"no submission of {hw} by {student}")
        notebooks = self.exchange.feedback(student, hw, lang=self.lang, reveal=self.reveal(hw)) \
            if SubmissionState(status["state"]).ended else []
        if self.get_argument("format", "json") == "html" or "text/html" in self.request.headers.get("Accept", ""):
            self.write_page(pages.feedback_page(hw, notebooks, status, self.lang))
        else:
            self.write_json({"status": status, "lang": self.lang, "notebooks": notebooks})


class GradesHandler(AssignmentsHandler):
    """What the student's Jupyter shows (graders.hub.serverext, the graders-hub JupyterLab extension): each
    released homework with its submission's state, score, policy and feedback link, in the student's words."""

    @web.authenticated
    async def get(self) -> None:
        translations = i18n.translations(self.lang)
        homeworks = [{"assignment_id": a["assignment_id"], "status": a["status"],
                      "feedback_url": self.feedback_url(a["assignment_id"]) if a["status"] else None,
                      **pages.submission_view(a["status"], self.lang, a.get("policy"))}
                     for a in self.assignments(await self.target_student())]
        self.write_json({"lang": self.lang, "homeworks": homeworks,
                         "labels": {key: translations.gettext(text) for key, text in pages.LABELS.items()}})


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
                if status is not None:
                    rows.append({"student": student, "hw": hw, "view": pages.submission_view(status, self.lang),
                                 "feedback_url": self.feedback_url(hw, student)})
        self.write_page(pages.render("home.html", self.lang, staff=staff, rows=rows))


def make_app(course: Course, *, prefix: str, reveal_after_due: bool,
             workers: int = 1) -> web.Application:
    exchange = Exchange(course)
    return web.Application([
        (prefix, HomeHandler),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        (url_path_join(prefix, "api/assignments"), AssignmentsHandler),
        (url_path_join(prefix, "api/grades"), GradesHandler),
        (url_path_join(prefix, r"api/assignments/([^/]+)/release"), ReleaseHandler),
        (url_path_join(prefix, r"api/assignments/([^/]+)/submit"), SubmitHandler),
        (url_path_join(prefix, r"api/assignments/([^/]+)/feedback"), FeedbackHandler),
        (url_path_join(prefix, r"feedback/([^/]+)"), FeedbackHandler),
    ], exchange=exchange, queue=GradingQueue(exchange, workers), group_cache={},
        reveal_after_due=reveal_after_due, prefix=prefix, cookie_secret=os.urandom(32))


def main() -> None:
    parser = argparse.ArgumentParser(description="graders exchange + grade-on-submit JupyterHub service")
    parser.add_argument("--course", required=True, help="course folder (nbgrader_config.py)")
    parser.add_argument("--reveal-after-due", action="store_true",
                        help="show test source in feedback once the due date has passed (a homework's "
                             "reveal_after_due in homework.toml decides for that homework)")
    parser.add_argument("--workers", type=int, default=1, help="Dask workers kept warm for grading (at most 2 here)")
    args = parser.parse_args()
    # Files written here are shared with the staff group (setgid course folder), never with others.
    os.umask(0o007)
    course = Course.load(args.course)
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    app = make_app(course, prefix=prefix, reveal_after_due=args.reveal_after_due, workers=args.workers)
    url = os.environ["JUPYTERHUB_SERVICE_URL"]
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    limit = max_request_bytes(course)
    app.listen(int(port), address=host, max_body_size=limit, max_buffer_size=limit)
    loop = IOLoop.current()
    app.settings["queue"].resume()
    # Explicit handlers: a service started from a non-interactive shell inherits SIGINT ignored,
    # and the hub stops its services with SIGINT.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: loop.add_callback_from_signal(loop.stop))
    loop.start()
    app.settings["queue"].pool.shutdown(wait=True, cancel_futures=True)  # a grading in progress ends first
    app.settings["queue"].close()
    app.settings["exchange"].close()


if __name__ == "__main__":
    main()
