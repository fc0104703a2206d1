"""Every state the platform names, one enumeration each, shared by the coordinator, the hub, status and reports.

Values are the strings stored in the database (graders_run.state, graders_job.state,
graders_attempt.state), so the enumerations compare equal to what is stored.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """A class run (`graders autograde`, validate, grade on submit)."""

    RUNNING = "running"
    DONE = "done"
    INTERRUPTED = "interrupted"  # its coordinator died; the next run takes over its unfinished jobs
    FAILED = "failed"  # it stopped on an error (no answer keys, no GPU runner...): its unfinished jobs failed with it


class JobState(StrEnum):
    """Grading one student's notebook in one run."""

    QUEUED = "queued"  # planned, waiting to be handed to the runners
    RUNNING = "running"  # handed to the runners (a Dask task): waiting for a free one or executing
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def final(self) -> bool:
        """Whether the job has a verdict (possibly a failure) that stands."""
        return self in FINAL_JOB_STATES


FINAL_JOB_STATES = frozenset({JobState.DONE, JobState.FAILED})


class AttemptState(StrEnum):
    """One execution of a job on a runner."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # it ran and failed (timeout, memory, crash): a verdict, not retried
    LOST = "lost"  # the runner or its sandbox went away: retried elsewhere


class OutcomeState(StrEnum):
    """What a class run reports for one notebook."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # unchanged since a graded job: not graded again


class SubmissionState(StrEnum):
    """A student's newest submission as the hub shows it, derived each time from the jobs that graded (or grade)
    its notebooks' content (graders.hub.submissions): the first of grading, queued, failed, graded that any
    notebook is in."""

    QUEUED = "queued"
    GRADING = "grading"
    GRADED = "graded"
    FAILED = "failed"

    @property
    def ended(self) -> bool:
        """Whether its grading has ended (graded, or failed with a reason): its feedback is ready."""
        return self in (SubmissionState.GRADED, SubmissionState.FAILED)

