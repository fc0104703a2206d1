"""The audit trail: every grade change (autograde, manual grade, penalty, extension) with who, when, old, new."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from sqlalchemy import select

from graders.course import Course
from graders.grading.deadlines import apply_penalties
from graders.grading.verdict import CellVerdict
from graders.reports.table import grade_table
from graders.store import Store, audit
from graders.store.gradebook import record_grades
from graders.store.models import AuditEvent
from tests.reports.conftest import HW

GRADERS = str(Path(sys.executable).parent / "graders")


def events(store: Store, student: str) -> list[tuple]:
    with store.session() as session:
        return [(e.actor, e.action, e.item, e.old_value, e.new_value) for e in audit.history(session, HW, student)]


def test_a_manual_grade_changes_the_total_and_is_audited(graded_class: Course, store: Store,
                                                         monkeypatch: pytest.MonkeyPatch):
    before = grade_table(store, HW).set_index("student").loc["dave"]
    assert before["status"] == "needs manual"
    monkeypatch.setenv("JUPYTERHUB_USER", "ta2")
    with Gradebook(graded_class.db_url, graded_class.course_id) as gradebook:  # as formgrader's API does
        grade = gradebook.find_grade("q_backprop", HW, HW, "dave")
        grade.manual_score = 7.0
        gradebook.db.commit()
    after = grade_table(store, HW).set_index("student").loc["dave"]
    assert after["raw_score"] == pytest.approx(before["raw_score"] + 7)
    assert after["final_score"] == pytest.approx(before["final_score"] + 7)
    assert events(store, "dave")[-1] == ("ta2", "manual", "q_backprop.manual_score", None, "7")
    with store.session() as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.at is not None and event.student == "dave" and event.notebook == HW


def test_a_regrade_records_old_and_new_auto_scores_as_autograde(graded_class: Course, store: Store):
    with store.session() as session:
        record_grades(session, HW, "frank", HW, [CellVerdict("test_forward", 10, 10.0, "probes")], None)
    assert events(store, "frank")[-1][1:] == ("autograde", "test_forward.auto_score", "2.5", "10")


def test_an_unchanged_grade_leaves_no_event(graded_class: Course, store: Store):
    count = len(events(store, "alice"))
    with store.session() as session:
        record_grades(session, HW, "alice", HW, [CellVerdict("test_forward", 10, 10.0, "probes")], None)
    assert len(events(store, "alice")) == count


def test_penalties_are_audited_and_recomputing_them_again_adds_nothing(graded_class: Course, store: Store):
    apply_penalties(graded_class, store, HW)
    penalty_events = [e for e in events(store, "bob") if e[2] == "late_penalty"]
    assert [e[1] for e in penalty_events] == ["late penalty"] and penalty_events[0][3] is None
    apply_penalties(graded_class, store, HW)
    assert [e for e in events(store, "bob") if e[2] == "late_penalty"] == penalty_events


def test_a_process_that_only_loads_the_course_config_audits_manual_grades(graded_class: Course, store: Store):
    """formgrader imports nothing of graders but reads nbgrader_config.py: that must be enough."""
    script = textwrap.dedent(f"""
        from traitlets.config.loader import PyFileConfigLoader
        PyFileConfigLoader("nbgrader_config.py", path={str(graded_class.root)!r}).load_config()
        from nbgrader.api import Gradebook
        with Gradebook({graded_class.db_url!r}, "dlcourse") as gradebook:
            gradebook.find_grade("q_softmax_ce", {HW!r}, {HW!r}, "dave").manual_score = 3.5
            gradebook.db.commit()
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "JUPYTERHUB_USER": "ta3"})
    assert result.returncode == 0, result.stderr
    assert events(store, "dave")[-1] == ("ta3", "manual", "q_softmax_ce.manual_score", None, "3.5")


def test_history_command_lists_who_when_old_and_new(graded_class: Course, store: Store):
    apply_penalties(graded_class, store, HW)
    result = subprocess.run([GRADERS, "extend", HW, "bob", "--until", "2026-11-23 00:00 UTC",
                             "--course", str(graded_class.root)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([GRADERS, "history", HW, "bob", "--course", str(graded_class.root)],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("autograde" in line and "test_forward.auto_score" in line and "│ 5 " in line for line in lines)
    assert any("ta1" in line and "q_backprop.manual_score" in line for line in lines)
    assert any("extension" in line and "2026-11-23 00:00:00" in line for line in lines)
    assert any("late penalty" in line and "late_penalty" in line for line in lines)
    assert any("due_date" in line and "2026-11-21 00:00:00" in line for line in lines)


def test_history_of_a_student_without_changes_says_so(graded_class: Course):
    result = subprocess.run([GRADERS, "history", HW, "nobody", "--course", str(graded_class.root)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "no changes recorded for nobody" in result.stdout
