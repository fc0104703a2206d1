"""`graders doctor` tells a TA what this machine enforces, checked for real, and fails on what the course needs."""

from __future__ import annotations

import os
import subprocess
import sys

from graders.sandbox import memory
from graders.sandbox.backends import count_gpus
from tests.helpers import solved_notebook, submit

HW = "hw1_backprop"


def graders(*args: str, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graders", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)


def _findings(stdout: str) -> dict[str, tuple[str, str]]:
    """name -> (status, detail), from the report's aligned lines."""
    found = {}
    for line in stdout.splitlines():
        name, rest = line[:24].strip(), line[25:]
        status, _, detail = rest.partition(" ")
        found[name] = (status, detail.strip())
    return found


def test_doctor_reports_the_sandbox_network_memory_limits_gpus_and_database(hw1_course):
    result = graders("doctor", cwd=hw1_course.root)
    assert result.returncode == 0, result.stdout + result.stderr
    found = _findings(result.stdout)
    version = subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
    assert found["sandbox"][0] == "ok" and found["sandbox"][1].startswith(version)
    assert found["user namespaces"][0] == "ok"
    assert found["network"] == ("ok", "isolated: interfaces inside lo; a port on the grader's loopback: refused")
    assert found["memory limit"][0] == "ok" and found["memory limit"][1].startswith(memory.probe()[0])
    assert found["process and file limits"][0] == "ok"
    assert found["GPUs"][1].startswith(f"{count_gpus()} GPU") and "torch " in found["GPUs"][1]
    assert found[HW][0] == "ok" and "gpu preferred" in found[HW][1]
    assert found["database"] == ("ok", f"{hw1_course.db_url} (writable)")


def test_a_homework_that_requires_a_gpu_fails_the_doctor_on_a_machine_without_one(hw1_course):
    settings = hw1_course.path("source", HW, "homework.toml")
    settings.write_text(settings.read_text().replace('gpu = "preferred"', 'gpu = "required"'))
    result = graders("doctor", cwd=hw1_course.root)
    status, detail = _findings(result.stdout)[HW]
    if count_gpus():
        assert result.returncode == 0 and status == "ok"
    else:
        assert result.returncode == 1 and status == "FAIL" and detail.startswith("requires a GPU")
        assert result.stderr.strip().splitlines() == [
            "error: this machine cannot grade dlcourse as configured (FAIL above)"]


def test_an_unreachable_database_fails_without_showing_its_password(hw1_course):
    url = "postgresql+psycopg://tom:s3cret-pw@127.0.0.1:9/gradebook"  # port 9 (discard): nothing listens
    result = graders("doctor", cwd=hw1_course.root, env={**os.environ, "GRADERS_DB_URL": url})
    assert result.returncode == 1
    status, detail = _findings(result.stdout)["database"]
    assert status == "FAIL" and detail.startswith("postgresql+psycopg://tom:***@127.0.0.1:9/gradebook does not answer")
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_autograde_starts_with_the_doctors_one_line_summary(hw1_course):
    submit(hw1_course, "alice", HW, solved_notebook(hw1_course, HW))
    result = graders("autograde", HW, "--workers", "1", cwd=hw1_course.root)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("doctor: bubblewrap ") and f"memory limit: {memory.probe()[0]}" in first
    assert "user namespaces ok, network isolated" in first and "FAILED" not in first
