"""A real JupyterHub on localhost for the browser tests, with its own users, course copy and ports.

Needs what `make hub` installs (root, the proxy, Debian's chromium, the user
Python environment); every process and user it starts is gone after the module.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from graders.course import Course
from graders.hub import accounts, userenv
from tests.conftest import REPO

ARTIFACTS = REPO / "test-artifacts" / "hub"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PASSWORD = "e2e-Passw0rd"
FRENCH_STUDENT = "e2e-chloe"
ROSTER = accounts.Roster(students=["e2e-alice", "e2e-bob", FRENCH_STUDENT], tas=["e2e-tom"], instructors=["e2e-ines"])
START_TIMEOUT_S = 60
HW = "hw1_backprop"
# The hub's course: the homework was due two hours ago, so every submission is late (10 % off, the
# course's PercentPerDay); the course speaks English and French, and FRENCH_STUDENT reads French (the
# roster's setting that branch `lang` reads, #16 item 3).
COURSE_SETTINGS = f"""
c.Graders.due["{HW}"] = "{{due:%Y-%m-%d %H:%M:%S}} UTC"
c.Graders.languages = ["en", "fr"]
c.Graders.student_languages = {{{{"{FRENCH_STUDENT}": "fr"}}}}
"""


@dataclass
class Hub:
    url: str
    port: int
    course: Course
    process: subprocess.Popen

    def stop(self) -> None:
        """SIGTERM, as `make hub`'s Ctrl-C would: the hub stops its proxy, servers and service."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise


def _free_base_port() -> int:
    """A port p with p, p+1 (proxy API), p+81 (hub) and p+91 (service) free on 127.0.0.1."""
    for base in range(18000, 19000, 7):
        try:
            for offset in (0, 1, 81, 91):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no free ports for the hub")


def _missing_prerequisites() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("root (the hub starts servers as each unix user)")
    for path in (CHROMIUM, "/usr/bin/configurable-http-proxy"):
        if not Path(path).exists():
            missing.append(str(path))
    return missing


@pytest.fixture(scope="module")
def hub(hw1_generated: Course) -> Hub:
    missing = _missing_prerequisites()
    if missing:
        pytest.fail(f"`make install` first; missing: {', '.join(missing)}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    userenv.make(Path(sys.prefix))  # the venv running the tests, as the hub will
    # Not under pytest's 0700 temp folder: staff users must be able to reach the course.
    work = Path(tempfile.mkdtemp(prefix="graders-e2e-"))
    work.chmod(0o755)
    env = {**os.environ, "GRADERS_HUB_STUDENTS": ",".join(ROSTER.students),
           "GRADERS_HUB_TAS": ",".join(ROSTER.tas), "GRADERS_HUB_INSTRUCTORS": ",".join(ROSTER.instructors)}
    port = _free_base_port()
    log = ARTIFACTS / "hub.log"
    process = None
    url = ""
    try:
        accounts.create(ROSTER, "dlcourse", PASSWORD)
        accounts.install_course(hw1_generated.root, work / "course", "dlcourse")
        due = datetime.now(timezone.utc) - timedelta(hours=2)
        with (work / "course" / "nbgrader_config.py").open("a") as config:
            config.write(COURSE_SETTINGS.format(due=due))
        env.update(GRADERS_COURSE_ROOT=str(work / "course"), GRADERS_HUB_STATE=str(work / "state"),
                   GRADERS_HUB_PORT=str(port))
        with log.open("w") as out:
            process = subprocess.Popen([str(Path(sys.prefix) / "bin/jupyterhub"), "-f",
                                        str(REPO / "config/jupyterhub_config.py")],
                                       cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, process, log)
        yield Hub(url, port, Course.load(work / "course"), process)
    finally:
        if process is not None:
            Hub(url, port, None, process).stop()
        accounts.remove(ROSTER, "dlcourse")
        shutil.rmtree(work, ignore_errors=True)


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the hub exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/services/grading/", timeout=2) as response:
                if "/hub/login" in response.url:  # the service answered (asks for a login): all are up
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the hub did not start in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def users_processes() -> list[str]:
    """Live processes of the test's users (must be none once the hub stopped)."""
    uids = set()
    for user in ROSTER.everyone:
        try:
            uids.add(pwd.getpwnam(user).pw_uid)
        except KeyError:
            pass
    out = subprocess.run(["ps", "-eo", "uid=,stat=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines()]
    # A zombie has exited already; reaping it is the job of whatever init the machine runs.
    return [" ".join(row) for row in rows if len(row) == 3 and int(row[0]) in uids and not row[1].startswith("Z")]
