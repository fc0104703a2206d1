"""nbgrader config of a TA's or instructor's single-user server: the course folder for the formgrader.

The course's own nbgrader_config.py (course id, database, due dates) is loaded
from GRADERS_COURSE_ROOT, which the hub sets (config/jupyterhub_config.py).
"""

import os

from traitlets.config.loader import PyFileConfigLoader

c = get_config()  # noqa: F821 - provided by traitlets

root = os.environ["GRADERS_COURSE_ROOT"]
c.merge(PyFileConfigLoader("nbgrader_config.py", path=root).load_config())
c.CourseDirectory.root = root
c.ExchangeFactory.list = "graders.hub.exchange.HubList"
c.ExchangeFactory.fetch_assignment = "graders.hub.exchange.HubFetchAssignment"
c.ExchangeFactory.submit = "graders.hub.exchange.HubSubmit"
c.ExchangeFactory.fetch_feedback = "graders.hub.exchange.HubFetchFeedback"
