"""nbgrader configuration of the course `dlcourse`, read by nbgrader and by `graders`."""

import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader or graders loads this file

course_root = Path(__file__).resolve().parent

c.CourseDirectory.course_id = "dlcourse"
c.CourseDirectory.root = str(course_root)
c.CourseDirectory.db_url = os.environ.get("GRADERS_DB_URL", f"sqlite:///{course_root / 'gradebook.db'}")
# Instructor-only files stay out of release/ (see docs/AUTHORING.md).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                            "mutants.toml", "homework.toml"]

# The platform's own settings.
c.Graders.lang = os.environ.get("GRADERS_LANG", "en")  # language of release/<hw>/: "en" or "fr"
# Every language `graders generate` releases: the course's in release/<hw>/, each other in release/<lang>/<hw>/.
c.Graders.languages = ["en", "fr"]
# Each student's language (homework, hub pages, feedback); students not listed get c.Graders.lang.
# A long roster can be read from a file here, e.g. dict(csv.reader(open(course_root / "languages.csv"))).
# c.Graders.student_languages = {"amelie": "fr"}

# Due dates (UTC unless a zone is given). Per-student extensions: `graders extend HW STUDENT --until ...`.
c.Graders.due = {
    "hw1_backprop": "2026-12-04 23:59:00 UTC",
    "hw2_rnn_cnn": "2026-12-18 23:59:00 UTC",
    "hw3_structured": "2027-01-15 23:59:00 UTC",
    "hw4_sgd": "2027-01-29 23:59:00 UTC",
}
# Late penalties through nbgrader's LateSubmissionPlugin extension point (nbgrader's "none"/"zero" work too).
# After changing the policy, `graders penalties all` recomputes every penalty from the stored scores.
c.AssignLatePenalties.plugin_class = "graders.grading.deadlines.PercentPerDay"
c.PercentPerDay.percent_per_day = 10  # per started day late
c.PercentPerDay.grace_minutes = 15
c.PercentPerDay.zero_after_days = 7

# Runners (docs/RUNNERS.md). `graders autograde HW` starts one local worker per core; `--cluster slurm`
# submits worker jobs with the settings below (dask-jobqueue); `--scheduler tcp://HOST:8786` uses a lab's.
# c.LocalRunners.workers = 8
# c.SlurmRunners.queue = "teaching"            # partition
# c.SlurmRunners.account = "dl-course"
# c.SlurmRunners.walltime = "02:00:00"
# c.SlurmRunners.memory = "8GiB"               # per job: the homework's memory_mb + its warm kernel
# c.SlurmRunners.cpu_jobs = 16
# c.SlurmRunners.gpu_jobs = 2                  # each with gpu_job_extra_directives, ["--gres=gpu:1"] by default
# c.SlurmRunners.adapt = True                  # start jobs as work waits, end idle ones

# formgrader loads this file too: importing the audit hook puts its manual grades in the audit trail.
import graders.store.audit  # noqa: E402,F401
