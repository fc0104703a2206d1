"""JupyterHub for the course: students fetch, submit and read feedback; staff use nbgrader's formgrader.

Started by `make hub` (which makes the demo users and the hub's copy of the
course first), directly: `jupyterhub -f config/jupyterhub_config.py` as root, or as
a service: config/systemd/graders-hub.service (docs/DEPLOY.md).
Settings come from the environment so a test can run its own hub:

    GRADERS_COURSE_ROOT  the hub's course folder (root:<course>-staff, 2770)   /srv/graders/dlcourse
    GRADERS_HUB_STATE    hub database, cookie secret, pid file                   /srv/graders/hub
    GRADERS_HUB_PORT     public port on 127.0.0.1                                8000
    GRADERS_CHP          configurable-http-proxy executable                      from PATH (Debian's package)
    GRADERS_DB_URL       the course database, passed on to the grading service   the course's gradebook.db

Processes: the hub (root, so it can start servers as each unix user), its
proxy, one single-user server per logged-in user (as that user, home 0700), and
the `grading` service (graders/hub/service.py, root), the only one that touches
the course folder. Stopping the hub (Ctrl-C / SIGTERM) stops all of them.

Authentication. The demo logs local unix users in with PAM. A course would use
its institution's login instead, with the same groups and roster:
  * from an LMS (Moodle, Canvas), LTI 1.3 with `ltiauthenticator`:
        c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.auth.LTI13Authenticator"
        c.LTI13Authenticator.issuer = "https://moodle.example.edu"
        c.LTI13Authenticator.authorize_url = "https://moodle.example.edu/mod/lti/auth.php"
        c.LTI13Authenticator.jwks_endpoint = "https://moodle.example.edu/mod/lti/certs.php"
        c.LTI13Authenticator.client_id = ["<client id given by the LMS>"]
        c.LTI13Authenticator.username_key = "email"
    the LTI roles claim (Learner / Instructor / TeachingAssistant) then fills the groups
    `nbgrader-dlcourse` and `formgrade-dlcourse` (Authenticator.manage_groups = True);
  * or the university's OAuth2 / OpenID Connect with `oauthenticator`:
        c.JupyterHub.authenticator_class = "generic-oauth"
        c.GenericOAuthenticator.oauth_callback_url = "https://hub.example.edu/hub/oauth_callback"
        c.GenericOAuthenticator.client_id / client_secret / authorize_url / token_url / userdata_url
        c.GenericOAuthenticator.manage_groups = True; auth_state_groups_key = "groups"
  with users then created by the spawner (e.g. DockerSpawner or SystemdSpawner) instead of useradd.
"""

import os
import pwd
import sys
from pathlib import Path

from graders.hub.accounts import Roster, hub_groups

c = get_config()  # noqa: F821 - provided by traitlets

repo = Path(__file__).resolve().parent.parent
course_root = Path(os.environ.get("GRADERS_COURSE_ROOT", "/srv/graders/dlcourse"))
state = Path(os.environ.get("GRADERS_HUB_STATE", "/srv/graders/hub"))
port = int(os.environ.get("GRADERS_HUB_PORT", "8000"))
service_port = port + 91
course_id = "dlcourse"
roster = Roster.from_env()
state.mkdir(parents=True, exist_ok=True, mode=0o700)

# Hub, proxy and its state: localhost only, nothing written in the repository.
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = port
c.JupyterHub.hub_port = port + 81
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 1}"
c.ConfigurableHTTPProxy.command = [os.environ.get("GRADERS_CHP", "configurable-http-proxy")]
# Debian's proxy (node-configurable-http-proxy) keeps its modules there; a node from another
# distribution (NodeSource) does not look there by itself. The proxy inherits the hub's environment.
os.environ.setdefault("NODE_PATH", "/usr/share/nodejs")
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every single-user server too
c.JupyterHub.cleanup_proxy = True

# Who: local unix users (PAM), roles through groups as nbgrader expects.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(roster.everyone)
c.Authenticator.admin_users = set(roster.instructors)
c.PAMAuthenticator.open_sessions = False  # no login session bookkeeping for a web login
c.JupyterHub.load_groups = {name: {"users": users} for name, users in hub_groups(roster, course_id).items()}
c.JupyterHub.load_roles = [
    # Every user may call the grading service (with their own identity only).
    {"name": "user", "scopes": ["self", "access:services!service=grading"]},
    # The service asks the hub who is in which group.
    {"name": "grading-service", "scopes": ["read:users", "read:groups"], "services": ["grading"]},
]

# Single-user servers: Notebook 7 with nbgrader's Assignments tab (and formgrader for staff).
# The project venv's packages on the system python3, which every user can run (graders/hub/userenv.py).
c.Spawner.cmd = [str(Path(sys.prefix) / "hub/bin/python3"), "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/tree"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.Spawner.server_token_scopes = ["access:servers!server", "users:activity!user",
                                 "access:services!service=grading"]
service_url = f"http://127.0.0.1:{service_port}/services/grading/"


def per_role_config(spawner) -> None:  # noqa: ANN001 - a Spawner
    """Students get the exchange only; staff also get the course folder for the formgrader."""
    staff = any(group.name == f"formgrade-{course_id}" for group in spawner.user.groups)
    spawner.environment.update({
        "JUPYTER_CONFIG_PATH": str(repo / "config" / "hub" / ("staff" if staff else "student")),
        "GRADERS_EXCHANGE_URL": service_url,
    })
    if staff:
        # nbgrader's formgrader wants the course inside the server's root: a link in the home does.
        home = Path(pwd.getpwnam(spawner.user.name).pw_dir)
        link = home / course_id
        if not link.is_symlink():
            link.symlink_to(course_root)
            os.lchown(link, *pwd.getpwnam(spawner.user.name)[2:4])
        spawner.environment["GRADERS_COURSE_ROOT"] = str(link)


c.Spawner.pre_spawn_hook = per_role_config

# The exchange and grade-on-submit service.
c.JupyterHub.services = [{
    "name": "grading",
    "url": f"http://127.0.0.1:{service_port}",
    "command": [sys.executable, "-m", "graders.hub.service", "--course", str(course_root), "--workers", "1",
                # GRADERS_REVEAL_AFTER_DUE=1: feedback shows the test cells' source once a homework is due.
                *(["--reveal-after-due"] if os.environ.get("GRADERS_REVEAL_AFTER_DUE") == "1" else [])],
    # A managed service sees none of the hub's environment but this: the course's database.
    "environment": {name: os.environ[name] for name in ("GRADERS_DB_URL", "GRADERS_LANG") if name in os.environ},
    "oauth_no_confirm": True,
    "display": True,
}]
