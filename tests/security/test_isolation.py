"""What a submission can see and touch: not the course, not the network, not the grader's secrets.

Every attacker here hands in the correct solution plus one attack cell, so it must
earn exactly what the honest student (alice, the same solution) earns: 100.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from tests.security.conftest import CANARIES, HW, SECRET, SECRET_ENV

ATTACKERS = ["atk_read", "atk_write", "atk_network", "atk_env"]


def _lines(text: str, prefix: str) -> int:
    return sum(line.startswith(prefix) for line in text.splitlines())


def test_the_honest_student_gets_full_marks_untouched_by_the_attackers(attack_class):
    alice = attack_class.outcomes["alice"]
    assert alice.state == "done" and alice.score == alice.max_score == 100
    with Gradebook(attack_class.course.db_url, attack_class.course.course_id) as gradebook:
        submission = gradebook.find_submission(HW, "alice")
        assert submission.code_score == 100
        assert all(g.manual_score is None for nb in submission.notebooks for g in nb.grades)


@pytest.mark.parametrize("student", ATTACKERS)
def test_an_isolation_attacker_earns_what_its_honest_code_earns(attack_class, student):
    outcome = attack_class.outcomes[student]
    assert outcome.state == "done", outcome.reason
    assert outcome.score == attack_class.outcomes["alice"].score
    assert f"ATTACK-RAN {student.removeprefix('atk_')}" in attack_class.outputs(student)


def test_source_keys_gradebook_and_other_students_are_invisible(attack_class):
    out = attack_class.outputs("atk_read")
    assert "READ-OK" not in out
    targets = int(re.search(r"ATTACK-RAN read (\d+)", out).group(1))
    assert _lines(out, "DENIED ") == targets  # every path was tried, and refused
    for canary in CANARIES.values():
        assert canary not in attack_class.notebook_text("atk_read")
    assert "SQLite format 3" not in out and '"tests"' not in out


def test_alice_sees_her_own_extra_files_and_nobody_else_does(attack_class):
    # the canary travels into alice's own sandbox only: grading copies a student's extra files
    for student in attack_class.outcomes:
        if student != "alice":
            assert CANARIES["alice"] not in attack_class.notebook_text(student), student


def test_nothing_is_written_to_the_course_or_the_gradebook(attack_class):
    out = attack_class.outputs("atk_write")
    scratch = attack_class.extra["new_files"][-1]  # /scratch/PWNED-...: the submission's own scratch
    assert [line for line in out.splitlines() if line.startswith("WROTE ")] == [f"WROTE {scratch}"]
    assert _lines(out, "DENIED ") == len(attack_class.extra["new_files"]) - 1 + 3 + 1  # every write was tried
    assert attack_class.before == attack_class.after  # source, keys, release, submissions byte-identical
    for path in attack_class.extra["new_files"]:
        assert not Path(path).exists(), path
    with Gradebook(attack_class.course.db_url, attack_class.course.course_id) as gradebook:
        for student, outcome in attack_class.outcomes.items():
            submission = gradebook.find_submission(HW, student)
            assert submission.code_score == (outcome.score or 0), student
            assert all(g.manual_score is None for nb in submission.notebooks for g in nb.grades), student


def test_no_network_not_even_localhost_or_the_dask_scheduler(attack_class):
    out = attack_class.outputs("atk_network")
    assert "OPEN: []" in out and "SCANNED 127.0.0.1" in out
    assert f"BLOCKED 127.0.0.1 {attack_class.extra['port']} ConnectionRefusedError" in out
    assert attack_class.extra["accepted"] is None  # the test's own listening port saw no connection
    # Every port the grader listened on while grading (its own test port, the Dask scheduler,
    # nannies, workers, dashboard) was scanned, or its whole address was unreachable.
    listening = attack_class.extra["listening"]
    assert any(port == attack_class.extra["port"] for _, port in listening) and len(listening) >= 3
    for ip, port in listening:
        if ip in ("0.0.0.0", "127.0.0.1", "::", "::1"):
            loopback = "::1" if ":" in ip else "127.0.0.1"
            assert f"SCANNED {loopback}" in out or f"UNREACHABLE {loopback}" in out, (ip, port)
        else:
            assert f"SCANNED {ip}" in out or f"UNREACHABLE {ip}" in out, (ip, port)


def test_the_graders_environment_and_secrets_never_reach_a_kernel(attack_class):
    assert attack_class.extra["secret_in_workers"]  # the Dask workers running the kernels had it
    out = attack_class.outputs("atk_env")
    assert "ENV {" in out and "'HOME'" in out  # the attack did print an environment
    assert SECRET_ENV not in out
    for student in attack_class.outcomes:
        assert SECRET not in attack_class.notebook_text(student), student
    assert SECRET.encode() not in Path(attack_class.course.db_url.removeprefix("sqlite:///")).read_bytes()
