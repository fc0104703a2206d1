"""nbgrader config of a student's single-user server: the hub exchange (graders/hub/exchange.py)."""

c = get_config()  # noqa: F821 - provided by traitlets

c.CourseDirectory.course_id = "dlcourse"
c.ExchangeFactory.list = "graders.hub.exchange.HubList"
c.ExchangeFactory.fetch_assignment = "graders.hub.exchange.HubFetchAssignment"
c.ExchangeFactory.submit = "graders.hub.exchange.HubSubmit"
c.ExchangeFactory.fetch_feedback = "graders.hub.exchange.HubFetchFeedback"
