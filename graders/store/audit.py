"""The audit trail: every change of a grade or late penalty in the gradebook becomes an event.

Changes are caught where they are written, in a SQLAlchemy `before_flush` hook on
every session of this process, so autograde, `graders` commands, nbgrader's API
and formgrader's manual grading (formgrader loads `nbgrader_config.py`, which
imports this module) are all audited the same way, in the same transaction as
the change. Who acted comes from `acting(...)`, else the JupyterHub or system user.
"""

from __future__ import annotations

import getpass
import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

from nbgrader.api import Grade, SubmittedNotebook
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from graders.store.models import AuditEvent

GRADE_FIELDS = ("auto_score", "manual_score", "extra_credit")

_acting: ContextVar[tuple[str, str] | None] = ContextVar("graders_acting", default=None)
_audited_binds: set[str] = set()


@dataclass(frozen=True)
class Actor:
    who: str
    action: str


def current_actor() -> Actor:
    """Who is changing grades now: set by `acting`, else a person grading by hand."""
    acting = _acting.get()
    if acting is not None:
        return Actor(*acting)
    return Actor(os.environ.get("JUPYTERHUB_USER") or getpass.getuser(), "manual")


@contextmanager
def acting(action: str, who: str | None = None) -> Iterator[None]:
    """Attribute the grade changes made inside the block to `who` (default: this user) doing `action`."""
    token = _acting.set((who or os.environ.get("JUPYTERHUB_USER") or getpass.getuser(), action))
    try:
        yield
    finally:
        _acting.reset(token)


def record(session: Session, assignment: str, student: str | None, item: str, old: object, new: object,
           notebook: str | None = None) -> None:
    """Add an audit event for a change the hook cannot see (extensions, due dates)."""
    actor = current_actor()
    session.add(AuditEvent(actor=actor.who, action=actor.action, assignment=assignment, student=student,
                           notebook=notebook, item=item, old_value=_text(old), new_value=_text(new)))


def history(session: Session, assignment: str, student: str | None = None) -> list[AuditEvent]:
    """Events of a homework (for one student, and the course-wide ones such as due dates), oldest first."""
    query = select(AuditEvent).where(AuditEvent.assignment == assignment)
    if student is not None:
        query = query.where((AuditEvent.student == student) | AuditEvent.student.is_(None))
    return list(session.scalars(query.order_by(AuditEvent.id)))


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _changes(obj: object, fields: tuple[str, ...], is_new: bool) -> Iterator[tuple[str, object, object]]:
    state = inspect(obj)
    for name in fields:
        hist = state.attrs[name].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old != new and not (is_new and new is None):
            yield name, old, new


def _has_audit_table(session: Session) -> bool:
    """A gradebook that `graders` never migrated (plain nbgrader use) has no audit table: leave it alone."""
    bind = session.get_bind()
    key = str(bind.url)
    if key not in _audited_binds and inspect(bind).has_table(AuditEvent.__tablename__):
        _audited_binds.add(key)  # only "yes" is kept: the table may be created later in this process
    return key in _audited_binds


def _before_flush(session: Session, flush_context: object, instances: object) -> None:
    watched = [(obj, False) for obj in session.dirty if isinstance(obj, (Grade, SubmittedNotebook))]
    watched += [(obj, True) for obj in session.new if isinstance(obj, (Grade, SubmittedNotebook))]
    if not watched or not _has_audit_table(session):
        return
    actor = current_actor()
    with session.no_autoflush:
        for obj, is_new in watched:
            if isinstance(obj, Grade):
                changes = [(f"{obj.cell.name}.{name}", old, new)
                           for name, old, new in _changes(obj, GRADE_FIELDS, is_new)]
                notebook = obj.notebook
            else:
                changes = [("late_penalty", old, new)
                           for _, old, new in _changes(obj, ("late_submission_penalty",), is_new)]
                notebook = obj
            for item, old, new in changes:
                session.add(AuditEvent(
                    actor=actor.who, action=actor.action, assignment=notebook.assignment.assignment.name,
                    student=notebook.assignment.student_id, notebook=notebook.notebook.name, item=item,
                    old_value=_text(old), new_value=_text(new)))


def install() -> None:
    """Audit every session of this process (idempotent)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)


install()
