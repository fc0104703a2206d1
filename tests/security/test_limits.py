"""Bombs, hangs, crashes and floods: each ends in its own sandbox, with its reason recorded,
costs no other student anything, and leaves no process behind.

Each attacker hands in the correct solution plus one attack cell right after the
`mlp` solution cell, so it can at best earn what the same solution earns (100).
"""

from __future__ import annotations

import re
from pathlib import Path

from graders.sandbox import memory
from tests.security import attacks
from tests.security.conftest import DAEMON_MARKER, FORK_COMM, HANG_COMM, MEMORY_COMM

MEMORY_SLACK_MIB = memory.MEMORY_SLACK >> 20


def _attempt(graded, student):  # noqa: ANN001, ANN202
    attempts = graded.attempts[student]
    assert len(attempts) == 1, [(a.state, a.reason) for a in attempts]  # graded once, never retried
    return attempts[0]


def _no_better_than_alice(graded, student) -> None:  # noqa: ANN001
    assert graded.outcomes[student].score <= graded.outcomes["alice"].score


def test_a_memory_bomb_stops_at_the_memory_limit_with_its_reason(attack_class):
    outcome, attempt = attack_class.outcomes["atk_memory"], _attempt(attack_class, "atk_memory")
    out = attack_class.outputs("atk_memory")
    assert "ATTACK-RAN memory" in out and "MemoryError" in out
    allocated = max(int(n) for n in re.findall(r"ALLOCATED-MIB (\d+)", out))
    assert 128 <= allocated <= 1024  # memory_mb = 1024 in this course; the bomb would take 4096
    assert outcome.state == "failed" and outcome.reason == attempt.reason == "memory limit (MemoryError)"
    assert attempt.peak_memory_mb <= 1024 + MEMORY_SLACK_MIB  # as the limit counts it (not the RSS it shares)
    _no_better_than_alice(attack_class, "atk_memory")


def test_eight_processes_of_300_mib_under_a_1_gib_limit_are_stopped_with_the_mechanism_recorded(attack_class):
    outcome, attempt = attack_class.outcomes["atk_memory_procs"], _attempt(attack_class, "atk_memory_procs")
    mechanism = memory.probe()[0]  # what this host offers: cgroup v1 as root here, the watchdog as a user
    assert attempt.memory_mechanism == mechanism
    assert outcome.state == "failed" and outcome.reason == attempt.reason == f"out of memory ({mechanism})"
    # It did take more than the limit (its children's memory, together), and was stopped: every process of the
    # submission was killed long before the children's 30 s were up, and none is left.
    assert attempt.peak_memory_mb >= 1024
    assert attempt.wall_s < attacks.MEMORY_HOLD_S
    assert attacks.wait_until_gone(lambda: attacks.processes_matching(MEMORY_COMM)) == []
    _no_better_than_alice(attack_class, "atk_memory_procs")


def test_every_attempt_records_the_memory_mechanism(attack_class):
    ran = [a for attempts in attack_class.attempts.values() for a in attempts if a.runner is not None]
    assert ran and {a.memory_mechanism for a in ran} == {memory.probe()[0]}


def test_a_fork_bomb_hits_the_process_limit_and_its_children_die_with_the_sandbox(attack_class):
    out = attack_class.outputs("atk_fork")
    forked = int(re.search(r"FORKED (\d+) STOPPED-BY (\w+)", out).group(1))
    assert "STOPPED-BY BlockingIOError" in out  # fork() refused (EAGAIN) long before the 1000 tried
    assert 0 < forked <= 256
    assert attacks.wait_until_gone(lambda: attacks.processes_matching(FORK_COMM)) == []
    _attempt(attack_class, "atk_fork")
    _no_better_than_alice(attack_class, "atk_fork")


def test_os_exit_is_a_failed_attempt_with_its_reason(attack_class):
    outcome, attempt = attack_class.outcomes["atk_exit"], _attempt(attack_class, "atk_exit")
    assert outcome.state == "failed" and outcome.reason == "kernel died (exit code 0)"
    assert attempt.state == "failed" and attempt.exit_code == 0
    _no_better_than_alice(attack_class, "atk_exit")
    assert outcome.score < attack_class.outcomes["alice"].score  # the tests after the exit never ran


def test_sigkill_of_its_own_kernel_is_a_failed_attempt_with_its_reason(attack_class):
    outcome, attempt = attack_class.outcomes["atk_sigkill"], _attempt(attack_class, "atk_sigkill")
    assert outcome.state == "failed" and outcome.reason == "kernel killed (SIGKILL)"
    assert attempt.exit_code == 128 + 9
    _no_better_than_alice(attack_class, "atk_sigkill")


def test_a_200_mb_stdout_flood_is_truncated_and_costs_nothing_else(attack_class):
    outcome = attack_class.outcomes["atk_flood"]
    assert outcome.state == "done" and outcome.score == attack_class.outcomes["alice"].score
    out = attack_class.outputs("atk_flood")
    assert "ATTACK-RAN flood" in out
    dropped = float(re.search(r"\[output limit: ([\d.]+) MiB of text left out here", out).group(1))
    assert dropped >= attacks.FLOOD_MB - 2  # a cell keeps 2 MiB
    path = attack_class.course.autograded_dir("atk_flood", "hw1_backprop") / "hw1_backprop.ipynb"
    assert path.stat().st_size < 4 << 20
    assert len(_attempt(attack_class, "atk_flood").log_tail or "") <= 4000


def test_a_daemon_that_outlives_its_cell_dies_with_the_sandbox(attack_class):
    outcome = attack_class.outcomes["atk_daemon"]
    assert outcome.state == "done" and outcome.score == attack_class.outcomes["alice"].score
    out = attack_class.outputs("atk_daemon")
    assert "ATTACK-RAN daemon" in out and "DAEMON-ALIVE" in out  # it ran, and was to live 20 s more
    assert attacks.wait_until_gone(lambda: attacks.processes_matching(DAEMON_MARKER)) == []
    for path in attack_class.extra["daemon_targets"]:  # it tried twice a second while it lived
        assert not Path(path).exists(), path


def test_no_sandbox_process_outlives_the_class_run(attack_class):
    assert attack_class.sandbox_processes_seen > 0  # the scan does see sandboxed kernels while they run
    assert attacks.wait_until_gone(lambda: attacks.sandbox_processes(attack_class.started)) == []


def test_honest_students_are_graded_normally_next_to_the_bombs(attack_class):
    outcomes = attack_class.outcomes
    assert outcomes["alice"].score == 100 and outcomes["alice"].state == "done"
    assert 0 < outcomes["partial"].score < 100 and outcomes["partial"].state == "done"
    for student in ("alice", "partial"):
        assert len(attack_class.jobs[student]) == 1 and len(attack_class.attempts[student]) == 1


def test_an_infinite_loop_that_ignores_signals_is_stopped_by_the_timeout(later_students):
    outcome, attempt = later_students.outcomes["b_hang"], _attempt(later_students, "b_hang")
    assert outcome.state == "failed" and outcome.reason == attempt.reason == "timeout"
    assert 8 <= attempt.wall_s < 30  # timeout_s = 8 in this course; the loop alone would run 60 s
    assert outcome.score < later_students.outcomes["c_honest"].score
    assert attacks.wait_until_gone(lambda: attacks.processes_matching(HANG_COMM)) == []
    assert attacks.wait_until_gone(lambda: attacks.sandbox_processes(later_students.started)) == []
