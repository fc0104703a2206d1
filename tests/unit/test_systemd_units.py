"""The systemd units in config/systemd/ as a department installs them (checkout in /opt/graders): systemd's
own checker accepts them without a warning (every key known, every value parsed, every command there),
their Dask command lines are ones Dask's CLI accepts, and the workers' Dask settings are the coordinator's."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import dask
import pytest
from distributed.cli.dask_scheduler import main as dask_scheduler
from distributed.cli.dask_worker import main as dask_worker

from graders.dispatch.runners.base import worker_environment

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "config" / "systemd"
INSTALLED_AT = "/opt/graders"  # where docs/DEPLOY.md puts the checkout and its .venv
SCHEDULER = "tcp://scheduler.example.edu:8786"  # GRADERS_SCHEDULER of /etc/graders/dask.env


def installed(tmp_path: Path) -> list[Path]:
    """The units with the checkout at this repository's path; templates as their instance 0."""
    paths = []
    for unit in sorted(UNITS.iterdir()):
        name = unit.name.replace("@.", "@0.")
        copy = tmp_path / name
        copy.write_text(unit.read_text().replace(INSTALLED_AT, str(REPO)))
        paths.append(copy)
    return paths


def settings(unit: Path) -> dict[str, list[str]]:
    """Every `Key=value` of a unit file, by key, in order."""
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def dask_command(unit: Path) -> list[str]:
    (command,) = settings(unit)["ExecStart"]
    instance = "0"
    command = command.replace("${GRADERS_SCHEDULER}", SCHEDULER).replace("%H", "host").replace("%i", instance)
    return shlex.split(command)


def test_systemd_accepts_every_unit_without_a_warning(tmp_path):
    units = installed(tmp_path)
    assert {u.name for u in units} >= {"graders-hub.service", "graders-dask-scheduler.service",
                                       "graders-dask-worker@0.service", "graders-dask-gpu-worker@0.service"}
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, units)],
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("unit", ["graders-dask-scheduler.service", "graders-dask-worker@.service",
                                  "graders-dask-gpu-worker@.service"])
def test_dask_command_lines_are_ones_dask_accepts(unit):
    program, command, *args = dask_command(UNITS / unit)
    assert program == f"{INSTALLED_AT}/.venv/bin/dask"
    cli = {"scheduler": dask_scheduler, "worker": dask_worker}[command]
    context = cli.make_context(f"dask {command}", args)  # raises on an unknown option or a bad value
    if command == "worker":
        assert context.params["nthreads"] == 1  # one submission at a time per runner
        assert context.params["name"] == "host-0"  # ends with its sandbox slot
        assert ("GPU=1" in (context.params["resources"] or "")) == ("gpu" in unit)


def test_workers_get_the_dask_settings_the_coordinator_gives_its_own_workers():
    for unit in ("graders-dask-worker@.service", "graders-dask-gpu-worker@.service"):
        environment = dict(item.split("=", 1) for line in settings(UNITS / unit)["Environment"]
                           for item in line.split())
        dask_settings = {k: v for k, v in environment.items() if k.startswith("DASK_")}
        assert dask_settings == worker_environment(), unit
    scheduler = settings(UNITS / "graders-dask-scheduler.service")["Environment"]
    assert scheduler == ["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0"]


def test_every_dask_variable_of_the_units_names_a_dask_setting():
    # Dask ignores a variable it does not know without a word: a typo would silently not apply.
    for unit in UNITS.iterdir():
        for line in settings(unit).get("Environment", []):
            for name in (item.split("=", 1)[0] for item in line.split() if item.startswith("DASK_")):
                key = name.removeprefix("DASK_").lower().replace("__", ".")
                dask.config.get(key)  # raises KeyError for an unknown setting
