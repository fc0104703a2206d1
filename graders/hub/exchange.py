"""nbgrader exchange backend that talks to the `grading` hub service (graders/hub/service.py).

Selected in the single-user servers' nbgrader config through nbgrader's own
extension point (`c.ExchangeFactory.list = "graders.hub.exchange.HubList"`, ...),
so nbgrader's Assignments tab works unchanged. Nothing is shared on disk: each
call carries the server's JupyterHub API token, and the service decides who the
caller is. The course's release/ folder is the released set and submissions land
straight in submitted/, so nbgrader's release and collect steps have nothing to do.
A submission's status (graders.hub.submissions.SubmissionStatus) is the service's
reading of the course database: its state, when it arrived, why it failed. A homework
is fetched in the student's language (the service picks the release), and each listed
homework carries `policy`, where the student stands under its submission policy
(graders.grading.policy.Standing.as_dict: how many submissions remain, when the next is
accepted), for a front-end to show before the student submits. A refusal is the
service's one-line message, which the Assignments tab shows.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from nbgrader.exchange.abc import Exchange, ExchangeFetchAssignment, ExchangeFetchFeedback, ExchangeList, ExchangeSubmit
from nbgrader.utils import find_all_files
from traitlets import Unicode, default

from graders.states import SubmissionState

TIMEOUT_S = 60


class ServiceError(Exception):
    """The grading service refused a request (its own message) or could not be reached."""


def service_call(method: str, path: str, body: dict | None = None, *, service_url: str | None = None) -> object:
    """One request to the grading service as this single-user server's user (its JupyterHub API token);
    the JSON answer. `service_url`: $GRADERS_EXCHANGE_URL, which the hub sets. Raises ServiceError."""
    url = (service_url or os.environ.get("GRADERS_EXCHANGE_URL", "")).rstrip("/") + "/" + path
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"token {os.environ.get('JUPYTERHUB_API_TOKEN', '')}",
        "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            said = json.loads(exc.read()).get("message")  # the service's one line (BaseHandler.write_error)
        except (ValueError, AttributeError, OSError):
            said = None
        raise ServiceError(str(said) if said else f"grading service: {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise ServiceError(f"grading service unreachable at {url}: {exc.reason}") from None


class HubExchange(Exchange):
    service_url = Unicode(help="base URL of the grading service, e.g. http://127.0.0.1:8091/services/grading/"
                          ).tag(config=True)

    @default("service_url")
    def _service_url(self) -> str:
        return os.environ.get("GRADERS_EXCHANGE_URL", "")

    def call(self, method: str, path: str, body: dict | None = None) -> object:
        """One authenticated request to the service; its JSON answer (or ExchangeError with its message)."""
        try:
            return service_call(method, path, body, service_url=self.service_url)
        except ServiceError as exc:
            self.fail(str(exc))

    def local_dir(self, hw: str) -> Path:
        return Path(self.assignment_dir) / hw

    def init_src(self) -> None:
        pass

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        pass


class HubList(HubExchange, ExchangeList):
    def list_files(self) -> list[dict]:
        assignments = [a for a in self.call("GET", "api/assignments")
                       if not self.coursedir.course_id or a["course_id"] == self.coursedir.course_id]
        if self.cached:  # nbgrader asks for "submitted" assignments with cached=True
            return [self._submitted(a) for a in assignments if a["status"]]
        return [self._released(a) for a in assignments]

    def remove_files(self) -> list[dict]:
        self.fail("removing released assignments is done in the course folder, not through the hub")

    def _released(self, assignment: dict) -> dict:
        folder = self.local_dir(assignment["assignment_id"])
        fetched = folder.is_dir()
        return {"course_id": assignment["course_id"], "assignment_id": assignment["assignment_id"],
                "policy": assignment["policy"], "lang": assignment["lang"],
                "status": "fetched" if fetched else "released",
                "path": str(folder.resolve()) if fetched else "",
                "notebooks": [{"notebook_id": p.stem, "path": str(p.resolve())}
                              for p in sorted(folder.glob("*.ipynb"))] if fetched else []}

    def _submitted(self, assignment: dict) -> dict:
        status, hw = assignment["status"], assignment["assignment_id"]
        timestamp = status["timestamp"]
        local = self.local_dir(hw) / "feedback" / timestamp
        ready = SubmissionState(status["state"]).ended
        has_local = local.is_dir() and any(local.glob("*.html"))
        submission = {
            "course_id": assignment["course_id"], "student_id": status["student"], "assignment_id": hw,
            "timestamp": timestamp, "status": "submitted", "path": "",
            "notebooks": [], "grading_status": status["state"], "reason": status.get("reason"),
            "has_local_feedback": has_local, "has_exchange_feedback": ready, "feedback_updated": False,
            "local_feedback_path": str(local.resolve()) if has_local else None}
        return {"course_id": assignment["course_id"], "student_id": status["student"], "assignment_id": hw,
                "status": "submitted", "submissions": [submission], "policy": assignment["policy"]}


class HubFetchAssignment(HubExchange, ExchangeFetchAssignment):
    def copy_files(self) -> None:
        hw = self.coursedir.assignment_id
        target = self.local_dir(hw)
        if target.exists():
            self.fail(f"You already have a copy of {hw} in {target}: move it away to fetch it again")
        files = self.call("GET", f"api/assignments/{hw}/release")
        for name, data in files.items():
            path = (target / name).resolve()
            if target.resolve() not in path.parents:
                self.fail(f"refusing to write outside {target}: {name}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(data))
        self.log.info("Fetched %s into %s", hw, target)


class HubSubmit(HubExchange, ExchangeSubmit):
    def copy_files(self) -> None:
        hw = self.coursedir.assignment_id
        folder = self.local_dir(hw)
        if not folder.is_dir():
            self.fail(f"No folder {folder}: fetch {hw} first")
        inside, outside = submission_files(folder, self.coursedir.ignore)
        for path in outside:
            self.log.warning("Not submitted: %s is a link out of %s", path, folder)
        files = {path: base64.b64encode((folder / path).read_bytes()).decode() for path in inside}
        status = self.call("POST", f"api/assignments/{hw}/submit", {"files": files})
        self.log.info("Submitted %s at %s (server time): %s", hw, status["timestamp"], status["state"])


def submission_files(folder: Path, ignore: list[str]) -> tuple[list[str], list[str]]:
    """What a student hands in from `folder`, as nbgrader's exchange does: every file (relative POSIX paths)
    but those matching nbgrader's `CourseDirectory.ignore` globs (checkpoints, caches, fetched feedback);
    and, apart, the links that point out of `folder`, which are not handed in. The service and the grader
    judge the rest: which files the grader is given, with a note for each one left out."""
    root = folder.resolve()
    inside, outside = [], []
    for name in sorted(find_all_files(str(folder), ignore)):
        relative = Path(name).relative_to(folder).as_posix()
        (inside if root in Path(name).resolve().parents else outside).append(relative)
    return inside, outside


class HubFetchFeedback(HubExchange, ExchangeFetchFeedback):
    def copy_files(self) -> None:
        hw = self.coursedir.assignment_id
        answer = self.call("GET", f"api/assignments/{hw}/feedback")
        status = answer["status"]
        if not SubmissionState(status["state"]).ended:
            self.fail(f"{hw} is {status['state']}: no feedback yet")
        from graders.hub.pages import feedback_page

        target = self.local_dir(hw) / "feedback" / status["timestamp"]
        target.mkdir(parents=True, exist_ok=True)
        for notebook in answer["notebooks"]:
            page = feedback_page(hw, [notebook], status, answer.get("lang", "en"))
            (target / f"{notebook['notebook']}.html").write_text(page)
        self.log.info("Feedback for %s in %s", hw, target)

