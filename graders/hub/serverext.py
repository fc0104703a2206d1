"""The student's Jupyter side of the grades: a Jupyter Server extension and the JupyterLab extension it serves.

The single-user server (Notebook 7 or JupyterLab, spawned by the hub) loads this module as a server
extension (`c.ServerApp.jpserver_extensions`, config/hub/student/jupyter_server_config.py). It adds
one endpoint, `GET <base_url>/graders/grades`: the grading service's `api/grades` (each released
homework with its submission's state, score with the late penalty and feedback link, in the student's
words), asked with the server's own JupyterHub token as graders.hub.exchange does, so the browser needs
no token or cookie of the service. The front end that polls it is the prebuilt JupyterLab extension
`graders-hub` (source in graders/hub/labextension/, built into LABEXTENSIONS; the same config names it in
`c.LabServerApp.extra_labextensions_path`, which Notebook 7 and JupyterLab both read).
"""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_server.base.handlers import APIHandler
from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from graders.hub.exchange import ServiceError, service_call

LABEXTENSIONS = Path(__file__).resolve().parent / "labextensions"  # holds graders-hub/, the built extension


class GradesHandler(APIHandler):
    """The service's grades of this server's user, as JSON; 502 with the reason when the service fails."""

    @web.authenticated
    async def get(self) -> None:
        try:
            grades = await IOLoop.current().run_in_executor(None, service_call, "GET", "api/grades")
        except ServiceError as exc:
            self.set_status(502)
            self.finish(json.dumps({"error": str(exc)}))
            return
        self.finish(json.dumps(grades))


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "graders.hub.serverext"}]


def _load_jupyter_server_extension(serverapp: ServerApp) -> None:
    route = url_path_join(serverapp.web_app.settings["base_url"], "graders", "grades")
    serverapp.web_app.add_handlers(".*$", [(route, GradesHandler)])
