"""CPU, wall time and peak memory of grading one correct submission of each homework.

    .venv/bin/python bench/homework_cost.py [HW ...]      (default: every homework)

Each homework is generated in a throwaway course, one solved submission is graded by one
sandboxed worker, and the attempt's own measurements (graders_attempt) are printed as a
Markdown table for bench/RESULTS.md.
"""

import shutil
import sys
import tempfile
from pathlib import Path

from sqlalchemy import select

from graders.authoring.demo import solved
from graders.authoring.generate import generate
from graders.course import Course
from graders.grading.autograde import autograde
from graders.store import Store
from graders.store.models import Attempt

REPO = Path(__file__).resolve().parent.parent


def cost(hw: str, folder: Path) -> Attempt:
    shutil.copy(REPO / "nbgrader_config.py", folder)
    shutil.copytree(REPO / "source" / hw, folder / "source" / hw)
    course = Course.load(folder)
    generate(course, hw)
    submission = course.submission_dir("student", hw)
    submission.mkdir(parents=True)
    (submission / f"{hw}.ipynb").write_text(__import__("nbformat").writes(solved(course, hw, hw)))
    [outcome] = autograde(course, hw, workers=1)
    assert outcome.score == outcome.max_score, outcome
    store = Store(course.db_url, course.course_id)
    with store.session() as session:
        attempt = session.scalars(select(Attempt)).one()
    store.close()
    return attempt


def main() -> None:
    homeworks = sys.argv[1:] or sorted(p.name for p in (REPO / "source").iterdir() if p.is_dir())
    print("| homework | CPU s | wall s | peak MiB |\n|---|---|---|---|")
    for hw in homeworks:
        with tempfile.TemporaryDirectory() as tmp:
            attempt = cost(hw, Path(tmp))
        print(f"| {hw} | {attempt.cpu_s:.1f} | {attempt.wall_s:.1f} | {attempt.peak_memory_mb:.0f} |", flush=True)


if __name__ == "__main__":
    main()
