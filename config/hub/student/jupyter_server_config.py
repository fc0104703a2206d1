"""A student's single-user server: nbgrader's Assignments tab, no formgrader or course list of staff, and
the grades of each submission where the student works (graders.hub.serverext, the graders-hub extension)."""

from graders.hub.serverext import LABEXTENSIONS

c = get_config()  # noqa: F821 - provided by traitlets

c.ServerApp.jpserver_extensions = {
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.course_list": False,
    "graders.hub.serverext": True,
}
# The prebuilt graders-hub extension shipped in the package (Notebook 7 and JupyterLab read this path).
c.LabServerApp.extra_labextensions_path = [str(LABEXTENSIONS)]
