"""A real single-node SLURM for tests: munged, slurmctld and slurmd of Debian's `munge` and `slurm-wlm`,
configured in a temporary folder and stopped afterwards. Nothing in /etc is read or changed: the daemons
and SLURM's commands find the configuration through $SLURM_CONF, and munge's socket is in the folder.

The node is this machine (its CPUs, half its memory) and has one GPU that is not there (a `gpu` gres
whose device is /dev/null): enough for SLURM to schedule and label `--gres=gpu:1` jobs as a GPU
cluster does, so that the GPU worker jobs' configuration is tested without a GPU.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scancel", "squeue", "sinfo")
NODE = "gradersnode"
START_TIMEOUT_S = 60


class SlurmUnavailable(RuntimeError):
    """SLURM or munge is missing, or did not start (the message says which, with its log)."""


@dataclass
class SingleNodeSlurm:
    folder: Path
    conf: Path
    cpus: int
    processes: list[subprocess.Popen]

    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def command(self, *args: str) -> str:
        return subprocess.run(args, env=self.env(), capture_output=True, text=True, check=True, timeout=60).stdout

    def stop(self) -> None:
        """Cancel every job, stop the daemons (slurmd first), remove the folder."""
        subprocess.run(["scancel", "--full", "--user", str(os.getuid())], env=self.env(), capture_output=True,
                       timeout=60)
        for process in reversed(self.processes):  # slurmd, slurmctld, munged
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_single_node_slurm() -> SingleNodeSlurm:
    """Start munged, slurmctld and slurmd (as root) in a new temporary folder; raise SlurmUnavailable."""
    if os.geteuid() != 0:
        raise SlurmUnavailable("the test SLURM runs slurmd as root, as a cluster does (it starts jobs as their user)")
    missing = [tool for tool in DAEMONS if shutil.which(tool) is None]
    if missing:
        raise SlurmUnavailable(f"{', '.join(missing)} not installed: `make system-packages` installs "
                               "Debian's slurm-wlm and munge")
    # Not under pytest's tmp_path: munged wants every folder above its socket open to all (o+x).
    folder = Path(tempfile.mkdtemp(prefix="graders-slurm-"))
    folder.chmod(0o755)
    for sub in ("state", "spool", "log"):
        (folder / sub).mkdir()
    cpus = os.cpu_count() or 1
    memory_mb = psutil.virtual_memory().total // 2**20 // 2
    ctld_port, slurmd_port = _free_port(), _free_port()
    conf = folder / "slurm.conf"
    conf.write_text(f"""\
ClusterName=graderstest
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={folder}/munge.socket
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdLogFile={folder}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
NodeName={NODE} NodeHostname={socket.gethostname()} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} \
Gres=gpu:1 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    (folder / "gres.conf").write_text("Name=gpu File=/dev/null\n")
    key = folder / "munge.key"
    subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, capture_output=True)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    processes: list[subprocess.Popen] = []
    cluster = SingleNodeSlurm(folder, conf, cpus, processes)
    try:
        processes.append(_daemon(folder / "log" / "munged.out", env,
                                 "munged", "--foreground", f"--socket={folder}/munge.socket", f"--key-file={key}",
                                 f"--pid-file={folder}/munged.pid", f"--seed-file={folder}/munged.seed"))
        _wait(lambda: (folder / "munge.socket").exists(), "munged", folder)
        processes.append(_daemon(folder / "log" / "slurmctld.out", env, "slurmctld", "-D", "-f", str(conf)))
        processes.append(_daemon(folder / "log" / "slurmd.out", env, "slurmd", "-D", "-f", str(conf), "-N", NODE))
        _wait(lambda: _node_state(env) == "idle", "the SLURM node", folder)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _daemon(log: Path, env: dict[str, str], *argv: str) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def _node_state(env: dict[str, str]) -> str:
    result = subprocess.run(["sinfo", "--noheader", "--format=%t"], env=env, capture_output=True, text=True,
                            timeout=30)
    return result.stdout.strip()


def _wait(ready, what: str, folder: Path) -> None:  # noqa: ANN001 - a predicate
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}"
                             for log in sorted((folder / "log").iterdir()))
            raise SlurmUnavailable(f"{what} did not start in {START_TIMEOUT_S} s\n{logs}")
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
