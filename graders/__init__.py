"""graders: release, autograde in sandboxes and report on deep-learning homeworks."""

import os
import sys

__version__ = "0.1.0"

# nbgrader's Gradebook runs the `alembic` executable by name when it creates a database:
# make this interpreter's scripts findable even when the virtualenv is not activated.
_scripts = os.path.dirname(sys.executable)
if _scripts not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _scripts + os.pathsep + os.environ.get("PATH", "")
