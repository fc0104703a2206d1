"""config/jupyterhub_config.py as the hub loads it."""

from __future__ import annotations

import json
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[2]


def test_the_grading_service_gets_the_database_url_the_hub_was_given(tmp_path, monkeypatch):
    # JupyterHub starts a managed service with only JUPYTERHUB_* and the service's `environment`:
    # without it, the service would grade into the course's SQLite file while TAs use PostgreSQL.
    url = "postgresql+psycopg://graders:secret@127.0.0.1/graders"
    monkeypatch.setenv("GRADERS_DB_URL", url)
    monkeypatch.setenv("GRADERS_HUB_STATE", str(tmp_path / "hub"))
    monkeypatch.setenv("NODE_PATH", "")  # the config sets a default for the proxy
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(REPO / "config")).load_config()
    (grading,) = [s for s in config.JupyterHub.services if s["name"] == "grading"]
    assert grading["environment"]["GRADERS_DB_URL"] == url


def test_the_students_jupyter_loads_the_grades_extension_shipped_in_the_package():
    """The prebuilt graders-hub extension and its server endpoint, with no node or npm step (make hub)."""
    from jupyterlab_server.config import get_federated_extensions

    config = PyFileConfigLoader("jupyter_server_config.py", path=str(REPO / "config/hub/student")).load_config()
    assert config.ServerApp.jpserver_extensions["graders.hub.serverext"] is True
    [path] = config.LabServerApp.extra_labextensions_path
    found = get_federated_extensions([path])
    assert found["graders-hub"]["name"] == json.loads((REPO / "graders/hub/labextension/package.json").read_text())["name"]
    assert (Path(path) / "graders-hub" / found["graders-hub"]["jupyterlab"]["_build"]["load"]).is_file()
