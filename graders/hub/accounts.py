"""Demo accounts and the hub's copy of the course: local unix users, groups, folder permissions.

`python -m graders.hub.accounts create --course DIR` makes the demo users (two
students, a TA, an instructor; password `PASSWORD` unless given), the unix group
`<course>-staff` that may read and write the course folder, and a copy of the
course (config, source, release, keys) in DIR, readable by staff only.
`remove` deletes the users it made (marked in their GECOS field) and nothing else.
A real course replaces these users by its authenticator (see config/jupyterhub_config.py).
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

MARK = "graders-demo"  # GECOS of the users made here: only those are ever removed
PASSWORD = "graders-demo"


@dataclass
class Roster:
    students: list[str] = field(default_factory=lambda: ["alice", "bob"])
    tas: list[str] = field(default_factory=lambda: ["tom"])
    instructors: list[str] = field(default_factory=lambda: ["ines"])

    @property
    def staff(self) -> list[str]:
        return self.tas + self.instructors

    @property
    def everyone(self) -> list[str]:
        return self.students + self.staff

    @classmethod
    def from_env(cls) -> "Roster":
        """The roster named by GRADERS_HUB_{STUDENTS,TAS,INSTRUCTORS} (comma-separated), else the demo one."""
        roster = cls()
        for name in ("students", "tas", "instructors"):
            value = os.environ.get(f"GRADERS_HUB_{name.upper()}")
            if value:
                setattr(roster, name, [u for u in value.split(",") if u])
        return roster


def hub_groups(roster: Roster, course_id: str) -> dict[str, list[str]]:
    """JupyterHub groups as nbgrader expects them: enrolled students, and who may use the formgrader."""
    return {f"nbgrader-{course_id}": roster.students, f"formgrade-{course_id}": roster.staff}


def staff_group(course_id: str) -> str:
    return f"{course_id}-staff"


def create(roster: Roster, course_id: str, password: str = PASSWORD) -> None:
    group = staff_group(course_id)
    if not _group_exists(group):
        subprocess.run(["groupadd", group], check=True)
    for user in roster.everyone:
        if _user_exists(user):
            if pwd.getpwnam(user).pw_gecos != MARK:
                raise SystemExit(f"user {user} exists and was not made by this script: choose other names")
        else:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", MARK, user],
                           check=True)
        # Homes private: no student can list or read another's work.
        os.chmod(pwd.getpwnam(user).pw_dir, 0o700)
        subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)
        groups = [group] if user in roster.staff else []
        subprocess.run(["usermod", "-G", ",".join(groups), user], check=True)


def remove(roster: Roster, course_id: str) -> None:
    for user in roster.everyone:
        if _user_exists(user) and pwd.getpwnam(user).pw_gecos == MARK:
            subprocess.run(["pkill", "-KILL", "-u", user], check=False)  # processes a stopped hub may have left
            subprocess.run(["userdel", "--remove", user], check=False, capture_output=True)
    group = staff_group(course_id)
    if _group_exists(group) and not grp.getgrnam(group).gr_mem:
        subprocess.run(["groupdel", group], check=False)


def install_course(source: Path, target: Path, course_id: str) -> None:
    """Copy the course's files the hub needs into `target`, owned by root and the staff group only."""
    if not (target / "nbgrader_config.py").is_file():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / "nbgrader_config.py", target / "nbgrader_config.py")
        for folder in ("source", "release", "keys"):
            if (source / folder).is_dir():
                shutil.copytree(source / folder, target / folder)
        if (source / "gradebook.db").is_file():
            shutil.copy(source / "gradebook.db", target / "gradebook.db")
    share_with_staff(target, course_id)


def share_with_staff(folder: Path, course_id: str) -> None:
    """rwx for root and the staff group, nothing for others; new files keep the group (setgid)."""
    gid = grp.getgrnam(staff_group(course_id)).gr_gid
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, 0, gid, follow_symlinks=False)
        if not path.is_symlink():
            os.chmod(path, 0o2770 if path.is_dir() else 0o660)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["create", "remove"])
    parser.add_argument("--course", type=Path, help="where the hub's copy of the course goes (create)")
    parser.add_argument("--from", dest="source", type=Path, default=Path.cwd(), help="course to copy")
    parser.add_argument("--course-id", default="dlcourse")
    parser.add_argument("--password", default=os.environ.get("GRADERS_HUB_PASSWORD", PASSWORD))
    args = parser.parse_args()
    roster = Roster.from_env()
    if args.action == "create":
        create(roster, args.course_id, args.password)
        if args.course:
            install_course(args.source, args.course, args.course_id)
    else:
        remove(roster, args.course_id)


if __name__ == "__main__":
    main()
