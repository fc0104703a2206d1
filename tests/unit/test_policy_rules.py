"""The arithmetic of a submission policy: how many remain, when the next is accepted, when it closes; and the
`[submissions]` table of homework.toml that sets it."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from graders.course import Course, CourseError
from graders.grading.deadlines import parse_datetime
from graders.grading.policy import Counts, SubmissionPolicy

REPO = Path(__file__).resolve().parents[2]


def at(text: str) -> datetime:
    return parse_datetime(f"2026-12-01 {text} UTC")


def test_without_a_policy_every_submission_is_accepted() -> None:
    standing = SubmissionPolicy().standing([at("10:00")] * 50, at("10:00"), None)
    assert (standing.refusal, standing.remaining, standing.next_allowed_at, standing.used) == (None, None, None, 50)
    assert standing.as_dict()["counts"] == "last"


def test_the_total_counts_every_hand_in_and_refuses_past_it() -> None:
    policy = SubmissionPolicy(total=3)
    assert policy.standing([at("09:00"), at("10:00")], at("11:00"), None).remaining == 1
    used_up = policy.standing([at("09:00"), at("10:00"), at("10:30")], at("11:00"), None)
    assert (used_up.remaining, used_up.next_allowed_at) == (0, None)
    assert used_up.refusal == "all 3 submissions used"


def test_per_day_is_any_24_hours_and_says_when_the_next_is_accepted() -> None:
    policy = SubmissionPolicy(per_day=2)
    handins = [parse_datetime("2026-11-30 08:00 UTC"), at("09:00"), at("10:00")]
    full = policy.standing(handins, at("11:00"), None)  # 09:00 and 10:00 are within the last 24 hours
    assert full.remaining == 0
    assert full.next_allowed_at == parse_datetime("2026-12-02 09:00 UTC")  # when 09:00 leaves the window
    assert full.refusal == "2 submissions in 24 hours: the next is accepted from 2026-12-02 09:00 UTC"
    later = policy.standing(handins, parse_datetime("2026-12-02 09:00:01 UTC"), None)
    assert (later.refusal, later.remaining) == (None, 1)


def test_remaining_is_the_tighter_of_the_total_and_the_day() -> None:
    policy = SubmissionPolicy(total=10, per_day=3)
    assert policy.standing([at("09:00")], at("10:00"), None).remaining == 2
    policy = SubmissionPolicy(total=2, per_day=3)
    assert policy.standing([at("09:00")], at("10:00"), None).remaining == 1


def test_a_minimum_delay_between_two_submissions() -> None:
    policy = SubmissionPolicy(min_delay_minutes=30)
    waiting = policy.standing([at("09:00"), at("10:00")], at("10:10"), None)
    assert waiting.next_allowed_at == at("10:30") and waiting.remaining is None
    assert waiting.refusal == "30 minutes between two submissions: the next is accepted from 2026-12-01 10:30 UTC"
    assert policy.standing([at("09:00"), at("10:00")], at("10:30"), None).refusal is None


def test_after_the_close_nothing_is_accepted() -> None:
    policy = SubmissionPolicy(total=5, closes=at("12:00"))
    assert policy.standing([], at("12:00"), at("12:00")).refusal is None  # at the close itself: accepted
    closed = policy.standing([], at("12:00:01"), at("12:00"))
    assert (closed.remaining, closed.next_allowed_at) == (0, None)
    assert closed.refusal == "submissions closed on 2026-12-01 12:00 UTC"
    # a wait that ends after the close is no wait: nothing will be accepted
    waiting = SubmissionPolicy(min_delay_minutes=60).standing([at("11:30")], at("11:45"), at("12:00"))
    assert waiting.next_allowed_at is None and waiting.refusal.endswith("after the close on 2026-12-01 12:00 UTC")


def test_the_json_a_front_end_shows() -> None:
    standing = SubmissionPolicy(total=3, per_day=2, counts=Counts.BEST, closes=at("12:00")).standing(
        [at("09:00"), at("10:00")], at("11:00"), at("12:00"))
    assert standing.as_dict() == {
        "counts": "best", "total": 3, "per_day": 2, "min_delay_minutes": None, "used": 2, "remaining": 0,
        "next_allowed_at": None, "closes_at": "2026-12-01T12:00:00Z",
        "refusal": "2 submissions in 24 hours: the next would be after the close on 2026-12-01 12:00 UTC"}


def test_an_override_replaces_only_what_it_sets() -> None:
    policy = SubmissionPolicy(total=3, per_day=1, counts=Counts.BEST)
    assert policy.overridden(total=5, per_day=None) == SubmissionPolicy(total=5, per_day=1, counts=Counts.BEST)


@pytest.fixture
def course(tmp_path: Path) -> Course:
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    (tmp_path / "source" / "hw_x").mkdir(parents=True)
    return Course.load(tmp_path)


def test_homework_toml_sets_the_policy(course: Course) -> None:
    course.path("source", "hw_x", "homework.toml").write_text(
        '[submissions]\ntotal = 5\nper_day = 2\nmin_delay_minutes = 7.5\ncounts = "best"\n'
        'closes = "2026-12-11 23:59 Europe/Paris"\n')
    assert course.homework("hw_x").policy == SubmissionPolicy(
        total=5, per_day=2, min_delay_minutes=7.5, counts=Counts.BEST, closes=parse_datetime("2026-12-11 22:59 UTC"))


def test_a_toml_date_time_is_read_as_any_other_date(course: Course) -> None:
    course.path("source", "hw_x", "homework.toml").write_text("[submissions]\ncloses = 2026-12-11T23:59:00+01:00\n")
    assert course.homework("hw_x").policy.closes == parse_datetime("2026-12-11 22:59 UTC")


@pytest.mark.parametrize(("table", "message"), [
    ("totl = 3", "unknown setting totl"),
    ("total = 0", "total must be a whole number, at least 1, not 0"),
    ("per_day = 1.5", "per_day must be a whole number"),
    ("min_delay_minutes = -1", "min_delay_minutes must be a number of minutes"),
    ('counts = "first"', "counts must be one of last, best"),
    ('closes = "12/11 23:59"', "not a date and time"),
])
def test_a_bad_policy_is_a_one_line_error_naming_the_file(course: Course, table: str, message: str) -> None:
    course.path("source", "hw_x", "homework.toml").write_text(f"[submissions]\n{table}\n")
    with pytest.raises(CourseError) as error:
        course.homework("hw_x")
    assert "homework.toml: [submissions] " in str(error.value) and message in str(error.value)
    assert "\n" not in str(error.value)
