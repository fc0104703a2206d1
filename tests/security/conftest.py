"""Two graded classes shared by the security tests (grading is the slow part, so each runs once).

- `attack_class`: honest students and one attacker per attack of issue 7, graded in
  one `autograde` run with 2 workers and the real bubblewrap sandbox, with lowered
  limits (memory, CPU) so that every bomb stays small even if a limit failed.
- `later_students`: one worker, three students in a row: one writes startup files
  everywhere it can, the next hangs until the (few seconds) timeout kills its
  sandbox, so the third is graded by a freshly started kernel that would load any
  startup file that survived.

Everything an attacker could leave behind on the host (files, processes) is
checked by the tests and removed here if it leaked.
"""

from __future__ import annotations

import json
import os
import secrets
import site
import socket
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil
import pytest
from sqlalchemy import select

from graders import cells
from graders.authoring.validate import load_mutants, mutate
from graders.course import Course
from graders.grading.autograde import Outcome, autograde
from graders.store import Store
from graders.store.models import Attempt, Job
from tests.conftest import REPO, copy_course
from tests.helpers import solved_notebook, submit, with_cell_after
from tests.security import attacks

HW = "hw1_backprop"
TOKEN = secrets.token_hex(4)
SECRET = f"graders-test-secret-{secrets.token_hex(8)}"
SECRET_ENV = "GRADERS_TEST_API_TOKEN"
CANARIES = {
    "source": f"CANARY-SOURCE-{TOKEN}",
    "keys": f"CANARY-KEYS-{TOKEN}",
    "alice": f"CANARY-ALICE-{TOKEN}",
}
FORK_COMM = f"fork{TOKEN}"
MEMORY_COMM = f"mem{TOKEN}"
DAEMON_MARKER = f"DAEMON-{TOKEN}"
HANG_COMM = f"hang{TOKEN}"
STARTUP_MARKER = f"STARTUP-PWNED-{TOKEN}"


@dataclass
class GradedClass:
    course: Course
    outcomes: dict[str, Outcome]
    attempts: dict[str, list[Attempt]]  # per student, in the order they were recorded
    jobs: dict[str, list[Job]]
    started: float  # time.time() when grading started
    before: dict[str, str]  # attacks.tree_digest of the course before and after grading
    after: dict[str, str]
    sandbox_processes_seen: int  # sandboxed processes under us while grading (the check is not blind)
    extra: dict = field(default_factory=dict)

    def notebook_text(self, student: str) -> str:
        path = self.course.autograded_dir(student, HW) / f"{HW}.ipynb"
        return path.read_text() if path.exists() else ""

    def outputs(self, student: str) -> str:
        """Every text output of the student's autograded notebook, joined."""
        text = self.notebook_text(student)
        if not text:
            return ""
        parts = []
        for cell in json.loads(text)["cells"]:
            for output in cell.get("outputs", []):
                for value in [output.get("text"), output.get("ename"), output.get("evalue"),
                              *output.get("data", {}).values()]:
                    if value:
                        parts.append("".join(value) if isinstance(value, list) else str(value))
        return "\n".join(parts)


def set_limits(course: Course, **limits: object) -> None:
    """Rewrite the test course's source/<hw>/homework.toml with lower limits."""
    path = course.path("source", HW, "homework.toml")
    settings = tomllib.loads(path.read_text()) | limits
    path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items()))


def grade(course: Course, workers: int) -> GradedClass:
    """Autograde every submission of `course`, recording what the checks need."""
    before = attacks.tree_digest(course.root)
    seen = {"sandboxes": 0, "listening": set(), "secret_in_workers": False}

    def observe(outcome: Outcome) -> None:
        """While grading: what a broken sandbox could have reached."""
        seen["sandboxes"] = max(seen["sandboxes"], len(attacks.sandbox_processes(started)))
        me = psutil.Process()
        for proc in [me, *me.children()]:  # the coordinator (Dask scheduler) and the Dask workers
            try:
                seen["listening"] |= {(c.laddr.ip, c.laddr.port) for c in proc.net_connections("tcp")
                                      if c.status == psutil.CONN_LISTEN}
                if proc.pid != me.pid and proc.environ().get(SECRET_ENV) == SECRET:
                    seen["secret_in_workers"] = True
            except psutil.Error:
                pass

    started = time.time()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, SECRET)  # the Dask workers inherit it; no kernel may see it
        outcomes = autograde(course, HW, workers=workers, on_outcome=observe)
    store = Store(course.db_url, course.course_id)
    attempts: dict[str, list[Attempt]] = {}
    jobs: dict[str, list[Job]] = {}
    with store.session() as session:
        for student, attempt in session.execute(select(Job.student, Attempt).join(Attempt).order_by(Attempt.id)):
            attempts.setdefault(student, []).append(attempt)
        for job in session.scalars(select(Job).order_by(Job.id)):
            jobs.setdefault(job.student, []).append(job)
    store.close()
    return GradedClass(course, {o.student: o for o in outcomes}, attempts, jobs, started, before, attacks.tree_digest(course.root), seen["sandboxes"],
                       {"listening": seen["listening"], "secret_in_workers": seen["secret_in_workers"]})


# --- tampered notebooks ------------------------------------------------------------------


def _test_cells(notebook) -> list:  # noqa: ANN001 - a NotebookNode
    return [c for c in notebook.cells if cells.is_autograded_test(c)]


def tests_deleted(solved):  # noqa: ANN001, ANN201
    notebook = nbformat.from_dict(json.loads(json.dumps(solved)))
    notebook.cells = [c for c in notebook.cells if not cells.is_autograded_test(c)]
    return notebook


def tests_edited(partial):  # noqa: ANN001, ANN201
    """Tests that emit made-up passing values (a held-out accuracy of 1.0) and assert nothing."""
    notebook = nbformat.from_dict(json.loads(json.dumps(partial)))
    for cell in _test_cells(notebook):
        cell.source = "probe('np_heldout_accuracy', 1.0)\nassert True"
    return notebook


def points_changed(partial):  # noqa: ANN001, ANN201
    """Every test and solution cell claims 1000 points; tests the student fails claim 0."""
    notebook = nbformat.from_dict(json.loads(json.dumps(partial)))
    for cell in notebook.cells:
        meta = cells.nbgrader_meta(cell)
        if meta:
            meta["points"] = 0 if cells.grade_id(cell) in ("test_grad_W1", "test_grad_b1") else 1000
            if cells.is_solution(cell):
                meta["grade"] = True
    notebook.metadata["nbgrader"] = {"total_points": 100000}
    return notebook


def ids_duplicated_and_invented(partial):  # noqa: ANN001, ANN201
    """Every test cell three times, and invented graded cells that would pass."""
    notebook = nbformat.from_dict(json.loads(json.dumps(partial)))
    out = []
    for cell in notebook.cells:
        out.append(cell)
        if cells.is_autograded_test(cell):
            out += [json.loads(json.dumps(cell)) | {"id": secrets.token_hex(4)} for _ in range(2)]
    invented = nbformat.v4.new_code_cell("assert True")
    invented.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 500,
                                     "grade_id": "bonus_points", "schema_version": 3}
    duplicate_solution = nbformat.v4.new_code_cell("assert True")
    duplicate_solution.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "points": 500,
                                               "grade_id": "mlp", "schema_version": 3}
    notebook.cells = [nbformat.from_dict(c) for c in out] + [invented, duplicate_solution]
    return notebook


def invented_on_solved(solved):  # noqa: ANN001, ANN201
    notebook = nbformat.from_dict(json.loads(json.dumps(solved)))
    invented = nbformat.v4.new_code_cell("assert True")
    invented.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 50,
                                     "grade_id": "bonus_points", "schema_version": 3}
    notebook.cells.append(invented)
    return notebook


def nbformat3_bytes(solved) -> bytes:  # noqa: ANN001
    copy = nbformat.from_dict(json.loads(json.dumps(solved)))  # convert() changes its argument
    return nbformat.writes(nbformat.convert(copy, 3), version=3).encode()


def huge_bytes(solved, megabytes: int = 50) -> bytes:  # noqa: ANN001
    notebook = nbformat.from_dict(json.loads(json.dumps(solved)))
    cell = nbformat.v4.new_code_cell("print('x' * 50_000_000)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (megabytes << 20))]
    notebook.cells.append(cell)
    return nbformat.writes(notebook).encode()


# --- the classes ----------------------------------------------------------------------------


def _home_entries() -> list[str]:
    """What the grader's home holds, except the folders above the interpreter (bound read-only)."""
    python = [Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()]
    home = Path.home()
    if not home.is_dir():
        return []
    return [str(p) for p in sorted(home.iterdir())[:30] if not any(r.is_relative_to(p) for r in python)]


def _host_ips() -> list[str]:
    """The host's own addresses, loopback and link-local ones aside."""
    return sorted({a.address for addrs in psutil.net_if_addrs().values() for a in addrs
                   if a.family in (socket.AF_INET, socket.AF_INET6) and not a.address.startswith(("127.", "fe80"))
                   and a.address != "::1"})


@pytest.fixture(scope="session")
def attack_class(hw1_generated: Course, tmp_path_factory: pytest.TempPathFactory):
    """Honest students and one attacker per attack, graded together (see the module docstring)."""
    course = copy_course(hw1_generated, tmp_path_factory.mktemp("security") / "course")
    set_limits(course, timeout_s=60, cpu_s=60, memory_mb=1024)
    root = course.root
    (root / "source" / HW / "canary.txt").write_text(CANARIES["source"])
    (root / "keys" / HW / "canary.txt").write_text(CANARIES["keys"])
    solved = solved_notebook(course, HW)
    partial = mutate(solved, load_mutants(course, HW)[1])

    submit(course, "alice", HW, solved)
    (course.submission_dir("alice", HW) / "notes.txt").write_text(CANARIES["alice"])
    submit(course, "partial", HW, partial)

    alice_dir = course.submission_dir("alice", HW)
    secret_paths = [
        str(root), str(root.parent), str(root / "source"), str(root / "source" / HW / f"{HW}.ipynb"),
        str(root / "source" / HW / "canary.txt"), str(root / "keys"), str(root / "keys" / HW / f"{HW}.json"),
        str(root / "keys" / HW / "canary.txt"), str(root / "gradebook.db"), str(root / "nbgrader_config.py"),
        str(root / "submitted"), str(alice_dir), str(alice_dir / f"{HW}.ipynb"), str(alice_dir / "notes.txt"),
        str(root / "autograded"), "/home", *_home_entries(),
        # the repository is a course too (its own keys/, gradebook.db, submitted/ when in use)
        str(REPO / "nbgrader_config.py"), str(REPO / "source" / HW / f"{HW}.ipynb"), str(REPO / "keys"),
        str(REPO / "gradebook.db"), str(REPO / "submitted"), str(REPO / "tests"),
    ]
    new_files = [str(root / f"PWNED-{TOKEN}"), str(root / "source" / HW / f"PWNED-{TOKEN}"),
                 str(root / "keys" / HW / f"PWNED-{TOKEN}"), str(alice_dir / f"PWNED-{TOKEN}"),
                 str(root / "release" / HW / f"PWNED-{TOKEN}"), str(REPO / f"PWNED-{TOKEN}"),
                 str(REPO / "graders" / f"PWNED-{TOKEN}"), f"/tmp/PWNED-{TOKEN}",
                 # the sandbox's own root, /etc and /dev (bwrap's tmpfs: the kernel's own as an ordinary user)
                 f"/PWNED-{TOKEN}", f"/etc/PWNED-{TOKEN}", f"/dev/PWNED-{TOKEN}",
                 f"/scratch/PWNED-{TOKEN}"]  # the last: the submission's own scratch folder
    existing_files = [str(alice_dir / f"{HW}.ipynb"), str(root / "keys" / HW / f"{HW}.json"),
                      str(root / "source" / HW / f"{HW}.ipynb")]
    daemon_targets = [str(root / f"DAEMON-WROTE-{TOKEN}"), str(alice_dir / f"DAEMON-WROTE-{TOKEN}"),
                      f"/scratch/DAEMON-WROTE-{TOKEN}"]  # the last: the submission's own scratch

    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen(16)
    port = listener.getsockname()[1]

    after_mlp = {
        "atk_read": attacks.read_files(secret_paths),
        "atk_write": attacks.write_files(new_files, existing_files, str(root / "gradebook.db")),
        "atk_network": attacks.network(port, _host_ips()),
        "atk_env": attacks.ENVIRONMENT,
        "atk_memory": attacks.MEMORY_BOMB,
        "atk_memory_procs": attacks.memory_bomb_processes(MEMORY_COMM),
        "atk_fork": attacks.fork_bomb(FORK_COMM),
        "atk_exit": attacks.OS_EXIT,
        "atk_sigkill": attacks.SIGKILL_SELF,
        "atk_flood": attacks.FLOOD,
        "atk_daemon": attacks.daemon(DAEMON_MARKER, daemon_targets),
    }
    for student, source in after_mlp.items():
        submit(course, student, HW, with_cell_after(solved, "mlp", source))
    submit(course, "tamper_tests_deleted", HW, tests_deleted(solved))
    submit(course, "tamper_tests_edited", HW, tests_edited(partial))
    submit(course, "tamper_points", HW, points_changed(partial))
    submit(course, "tamper_ids", HW, ids_duplicated_and_invented(partial))
    submit(course, "tamper_invented", HW, invented_on_solved(solved))
    submit(course, "tamper_json", HW, b'{"cells": [this is not json')
    submit(course, "tamper_nbformat3", HW, nbformat3_bytes(solved))
    submit(course, "tamper_huge", HW, huge_bytes(solved))

    try:
        graded = grade(course, workers=2)
        listener.setblocking(False)
        try:
            connection, address = listener.accept()
            connection.close()
            graded.extra["accepted"] = address
        except BlockingIOError:
            graded.extra["accepted"] = None
    finally:
        listener.close()
    graded.extra.update(port=port, new_files=new_files, daemon_targets=daemon_targets)
    yield graded
    for path in new_files + daemon_targets:  # only if the sandbox leaked them (the tests then fail)
        Path(path).unlink(missing_ok=True)


def startup_targets_on_host() -> list[Path]:
    """Where the startup-file attack would have landed, had it reached the host."""
    dirs = [*site.getsitepackages(), site.getusersitepackages(), os.path.dirname(os.__file__), "/tmp", "/tmp/work"]
    paths = [Path(d, n) for d in dirs for n in ("sitecustomize.py", "usercustomize.py", "zz_graders_attack.pth")]
    for home in (Path.home(), Path("/tmp"), Path("/tmp/work")):
        paths += [home / ".ipython/profile_default/startup/00-attack.py", home / ".jupyter/jupyter_config.py"]
    return paths + [Path("/tmp/matplotlib/matplotlibrc")]


def leaked_startup_files() -> list[Path]:
    leaked = []
    for path in startup_targets_on_host():
        try:
            if STARTUP_MARKER in path.read_text(errors="replace"):
                leaked.append(path)
        except OSError:
            pass
    return leaked


@pytest.fixture(scope="session")
def later_students(hw1_generated: Course, tmp_path_factory: pytest.TempPathFactory):
    """One worker: a startup-file writer, a hang (its timeout restarts the kernel), an honest student."""
    course = copy_course(hw1_generated, tmp_path_factory.mktemp("security-later") / "course")
    set_limits(course, timeout_s=8, cpu_s=30, memory_mb=1024)
    solved = solved_notebook(course, HW)
    submit(course, "a_startup", HW,
           with_cell_after(solved, "mlp", attacks.startup_files(STARTUP_MARKER, [str(Path.home())])))
    submit(course, "b_hang", HW, with_cell_after(solved, "mlp", attacks.hang(HANG_COMM)))
    submit(course, "c_honest", HW, solved)
    try:
        yield grade(course, workers=1)
    finally:
        for path in leaked_startup_files():  # only if the sandbox leaked them (the tests then fail)
            path.unlink()
