#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: grade a few HW2 submissions on a GPU worker and show the device
# each attempt used (expect "cuda: <GPU name>"). Prints the attempts; exits non-zero if none used cuda.
# Usage: bash bench/gpu_check.sh [N submissions, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
make install >/dev/null
N="${1:-3}"
COURSE="$(mktemp -d)/course"
.venv/bin/python - "$COURSE" "$N" <<'PY'
import shutil, sys
from pathlib import Path

from graders.grading.autograde import autograde
from graders.course import Course
from graders.authoring.demo import solved, submit_synthetic_class
from graders.sandbox.backends import count_gpus
from graders.authoring.generate import generate
from graders.store import Store
from graders.store.models import Attempt, Job
from sqlalchemy import select

root, n = Path(sys.argv[1]), int(sys.argv[2])
root.mkdir(parents=True)
shutil.copy("nbgrader_config.py", root)
shutil.copytree("source/hw2_rnn_cnn", root / "source/hw2_rnn_cnn")
course = Course.load(root)
print(f"GPUs seen: {count_gpus()}")
generate(course, "hw2_rnn_cnn")
students = [s.name for s in submit_synthetic_class(course, "hw2_rnn_cnn")][:n]
outcomes = autograde(course, "hw2_rnn_cnn", students=students, workers=2)
store = Store(course.db_url, course.course_id)
with store.session() as session:
    rows = session.execute(select(Job.student, Job.score, Job.max_score, Attempt.device, Attempt.runner,
                                  Attempt.wall_s, Attempt.reason).join(Attempt)).all()
for row in rows:
    print(" | ".join(str(x) for x in row))
sys.exit(0 if any(str(r.device).startswith("cuda") for r in rows) else 1)
PY
