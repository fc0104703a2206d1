"""A student's single-user server: nbgrader's Assignments tab, no formgrader or course list of staff."""

c = get_config()  # noqa: F821 - provided by traitlets

c.ServerApp.jpserver_extensions = {
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.course_list": False,
}
