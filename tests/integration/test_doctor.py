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


def test_an_unreachable_database_and_scheduler_fail_and_the_password_is_never_shown(hw1_course):
    url = "postgresql+psycopg://tom:s3cret-pw@127.0.0.1:9/gradebook"  # port 9 (discard): nothing listens
    result = graders("doctor", "--scheduler", "tcp://127.0.0.1:9", cwd=hw1_course.root,
                     env={**os.environ, "GRADERS_DB_URL": url})
    assert result.returncode == 1
    found = _findings(result.stdout)
    status, detail = found["database"]
    assert status == "FAIL" and detail.startswith("postgresql+psycopg://tom:***@127.0.0.1:9/gradebook does not answer")
    assert "s3cret-pw" not in result.stdout + result.stderr
    status, detail = found["scheduler"]
    assert status == "FAIL" and detail.startswith("tcp://127.0.0.1:9 does not answer")


def test_without_bubblewrap_the_doctor_fails_and_says_how_to_install_it(hw1_course):
    no_bwrap = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # bwrap lives in /usr/bin
    result = graders("doctor", cwd=hw1_course.root, env=no_bwrap)
    assert result.returncode == 1
    assert _findings(result.stdout)["sandbox"] == (
        "FAIL", "bubblewrap is not installed (apt-get install bubblewrap); "
                "pass --unsafe-no-sandbox to grade without isolation")


def test_autograde_starts_with_the_doctors_one_line_summary(hw1_course):
    submit(hw1_course, "alice", HW, solved_notebook(hw1_course, HW))
    result = graders("autograde", HW, "--workers", "1", cwd=hw1_course.root)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("doctor: bubblewrap ") and f"memory limit: {memory.probe()[0]}" in first
    assert "user namespaces ok, network isolated" in first and "FAILED" not in first


def test_a_reachable_scheduler_is_reported_with_its_workers(hw1_course):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        result = graders("doctor", "--scheduler", cluster.scheduler_address, cwd=hw1_course.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _findings(result.stdout)["scheduler"] == ("ok", f"{cluster.scheduler_address}: 1 workers, 0 with a GPU")
