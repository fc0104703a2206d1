"""A Python environment that every unix user can run: the project's packages on a system interpreter.

The project's virtualenv may sit on an interpreter that only root can reach
(pyenv under /root), while single-user servers run as each student. This makes
`<venv>/hub/`, a venv on the system's python3 of the same minor version whose
site-packages load the project venv's (`site.addsitedir`, so the editable
`graders` install works too), with the project venv's console scripts
(`graders`, `alembic` that nbgrader runs, `jupyter`...) on that python; share/
and etc/ point at the project venv's, so Jupyter finds nbgrader's extensions
there. Nothing is installed: an ordinary user (a TA) runs `<venv>/hub/bin/graders`.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"


def make(venv: Path, python: str = SYSTEM_PYTHON) -> Path:
    """Create (or refresh) `venv`/hub and return its python."""
    venv = venv.resolve()
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    theirs = subprocess.run([python, "-c", "import sys; print(f'python{sys.version_info.major}."
                             "{sys.version_info.minor} {sys.version.split()[0]}')"],
                            capture_output=True, text=True, check=True).stdout.split()
    if theirs[0] != version:
        raise SystemExit(f"{python} is {theirs[0]}, the project venv is {version}: they must match")
    hub = venv / "hub"
    site_packages = hub / "lib" / version / "site-packages"
    (hub / "bin").mkdir(parents=True, exist_ok=True)
    site_packages.mkdir(parents=True, exist_ok=True)
    _replace(hub / "pyvenv.cfg", f"home = {Path(python).parent}\ninclude-system-site-packages = false\n"
                                 f"version = {theirs[1]}\n")
    for name, target in (("bin/python3", python), ("share", "../share"), ("etc", "../etc")):
        link = hub / name
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(target, link)
    project = venv / "lib" / version / "site-packages"
    _replace(site_packages / "graders_project_venv.pth", f"import site; site.addsitedir({str(project)!r})\n")
    _copy_scripts(venv / "bin", hub / "bin")
    return hub / "bin" / "python3"


def _copy_scripts(source: Path, target: Path) -> None:
    """The venv's console scripts (graders, alembic, which nbgrader runs, jupyter...) on the hub's python3."""
    for script in sorted(source.iterdir()):
        if not script.is_file() or script.is_symlink():
            continue
        with script.open("rb") as f:
            if f.read(2) != b"#!":
                continue
            head, _, body = (b"#!" + f.read()).partition(b"\n")
        # the venv's python, wherever the venv was made (a copy keeps the original's path)
        if re.fullmatch(r"#!\S*/bin/python[0-9.]*", head.decode(errors="replace").strip()):
            _replace(target / script.name, f"#!{target / 'python3'}\n" + body.decode(), mode=0o755)


def _replace(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `path` as a new file: a venv copied with hard links (cp -al) keeps the original's intact."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.chmod(mode)
    os.replace(partial, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venv", type=Path, help="the project virtualenv (.venv)")
    parser.add_argument("--python", default=SYSTEM_PYTHON)
    args = parser.parse_args()
    print(make(args.venv, args.python))


if __name__ == "__main__":
    main()
