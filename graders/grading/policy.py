"""A homework's submission policy: how many graded submissions, how often, until when, and which one counts.

Set per homework in the `[submissions]` table of `source/<hw>/homework.toml` (docs/AUTHORING.md,
"Submission policy"); a TA may change it for one student (`graders allow`, graders.store.handins).
This module is the arithmetic only: given the times of a student's hand-ins, when the next one is
accepted and how many remain. Times are naive UTC datetimes, as everywhere in graders.grading.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

WINDOW = timedelta(hours=24)  # "per day": in any 24 hours, whatever the student's time zone
POLICY_KEYS = ("total", "per_day", "min_delay_minutes", "counts", "closes")


class Counts(StrEnum):
    """Which graded hand-in gives the homework's score."""

    LAST = "last"  # the newest graded one, as nbgrader (its gradebook holds one submission per student)
    BEST = "best"  # the one with the highest final score (graders.grading.counting)


@dataclass(frozen=True)
class SubmissionPolicy:
    """Limits on a student's hand-ins of one homework; None: no limit."""

    total: int | None = None  # graded submissions in all
    per_day: int | None = None  # graded submissions in any 24 hours
    min_delay_minutes: float | None = None  # between two submissions
    counts: Counts = Counts.LAST
    closes: datetime | None = None  # hard close (naive UTC): submissions are refused after it

    @classmethod
    def from_table(cls, table: object) -> SubmissionPolicy:
        """The policy of a `[submissions]` TOML table; ValueError (one line) for an unknown key or a bad value."""
        from graders.grading.deadlines import parse_datetime  # the one date parser (it imports graders.course)

        if not isinstance(table, dict):
            raise ValueError("must be a table")
        unknown = sorted(set(table) - set(POLICY_KEYS))
        if unknown:
            raise ValueError(f"unknown setting {', '.join(unknown)} (known: {', '.join(POLICY_KEYS)})")
        counts = table.get("counts", Counts.LAST)
        if counts not in tuple(Counts):
            raise ValueError(f"counts must be one of {', '.join(Counts)}, not {counts!r}")
        closes = table.get("closes")
        if isinstance(closes, datetime):  # a TOML date-time: with an offset, or local (read as UTC, as nbgrader)
            closes = parse_datetime(closes.isoformat())
        elif closes is not None:
            closes = parse_datetime(str(closes))
        return cls(**check_limits({k: table.get(k) for k in ("total", "per_day", "min_delay_minutes")}),
                   counts=Counts(counts), closes=closes)

    def overridden(self, **values: object) -> SubmissionPolicy:
        """This policy with the given fields replaced where they are not None (one student's override)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def standing(self, handins: list[datetime], now: datetime, closes: datetime | None) -> Standing:
        """Where a student stands who handed in at `handins` (naive UTC), at `now`, their hard close being `closes`.

        `closes` is this policy's close as it applies to the student (moved by an extension: see
        graders.store.handins); a hand-in exactly at the close is accepted.
        """
        handins = sorted(handins)
        used = len(handins)
        recent = [t for t in handins if t > now - WINDOW]
        left = [n for n in (self.total - used if self.total is not None else None,
                            self.per_day - len(recent) if self.per_day is not None else None) if n is not None]
        remaining = max(0, min(left)) if left else None
        waits = []  # (until when, why)
        if self.per_day is not None and len(recent) >= self.per_day:
            # the oldest hand-ins of the window must leave it before one more fits
            waits.append((recent[len(recent) - self.per_day] + WINDOW,
                          f"{self.per_day} submission{_s(self.per_day)} in 24 hours"))
        if self.min_delay_minutes and handins and handins[-1] + timedelta(minutes=self.min_delay_minutes) > now:
            waits.append((handins[-1] + timedelta(minutes=self.min_delay_minutes),
                          f"{self.min_delay_minutes:g} minute{_s(self.min_delay_minutes)} between two submissions"))
        next_at, why = max(waits) if waits else (None, None)
        if closes is not None and now > closes:
            return Standing(self, used, 0, None, closes, f"submissions closed on {_when(closes)}")
        if self.total is not None and used >= self.total:
            return Standing(self, used, 0, None, closes,
                            f"all {self.total} submission{_s(self.total)} used")
        if next_at is not None and closes is not None and next_at > closes:
            return Standing(self, used, 0, None, closes,
                            f"{why}: the next would be after the close on {_when(closes)}")
        if next_at is not None:
            return Standing(self, used, remaining, next_at, closes,
                            f"{why}: the next is accepted from {_when(next_at)}")
        return Standing(self, used, remaining, None, closes, None)


@dataclass(frozen=True)
class Standing:
    """A student's position under a policy at one moment."""

    policy: SubmissionPolicy
    used: int  # hand-ins so far
    remaining: int | None  # how many more are accepted before a count limit (total, 24 hours) refuses; None: no limit
    next_allowed_at: datetime | None  # when the next is accepted, if not now and not never
    closes_at: datetime | None  # the student's hard close
    refusal: str | None  # why a hand-in now is refused (one line); None: accepted

    def as_dict(self) -> dict:
        """JSON-ready (docs/AUTHORING.md, "Submission policy"): times as ISO 8601 UTC strings."""
        policy = self.policy
        return {"counts": str(policy.counts), "total": policy.total, "per_day": policy.per_day,
                "min_delay_minutes": policy.min_delay_minutes, "used": self.used, "remaining": self.remaining,
                "next_allowed_at": _iso(self.next_allowed_at), "closes_at": _iso(self.closes_at),
                "refusal": self.refusal}


def check_limits(values: dict[str, object]) -> dict[str, int | float | None]:
    """`total` and `per_day` (whole numbers, at least 1), `min_delay_minutes` (a number, at least 0); None stays."""
    checked: dict[str, int | float | None] = {}
    for name, value in values.items():
        whole = name != "min_delay_minutes"
        if value is not None and (isinstance(value, bool) or not isinstance(value, int if whole else (int, float))
                                  or value < (1 if whole else 0)):
            kind = "a whole number, at least 1" if whole else "a number of minutes, at least 0"
            raise ValueError(f"{name} must be {kind}, not {value!r}")
        checked[name] = value
    return checked


def _s(n: float) -> str:
    return "" if n == 1 else "s"


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"
