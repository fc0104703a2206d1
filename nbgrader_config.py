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
c.Graders.lang = os.environ.get("GRADERS_LANG", "en")  # language of release/: "en" or "fr"
