"""Runners as SLURM jobs through dask-jobqueue: one single-threaded worker per job, the first ones with a GPU.

The coordinator runs the Dask scheduler; each worker job runs `dask worker` with the coordinator's
Python (so nodes need the same virtualenv path, usually a shared filesystem) and bubblewrap. Workers
never see the course or the database: jobs carry what a runner needs. The scheduler and its workers
talk TLS with certificates made for this run (files readable by the TA only, in a folder that the
nodes share), so that nobody else on the cluster can send its workers code to run.
"""

from __future__ import annotations

from pathlib import Path

from dask_jobqueue import SLURMCluster
from distributed.security import Security
from traitlets import Bool, Dict, Float, Int, List, Unicode

from graders.dispatch.runners.base import Runners, worker_environment

GPU_JOB_NAME = "graders-gpu"


class SlurmRunners(Runners):
    """Worker jobs submitted with sbatch when the run starts and cancelled when it ends."""

    kind = "slurm"
    queue = Unicode(None, allow_none=True, help="SLURM partition (sbatch -p).").tag(config=True)
    account = Unicode(None, allow_none=True, help="SLURM account (sbatch -A).").tag(config=True)
    walltime = Unicode("02:00:00", help="Time limit of each worker job (sbatch -t).").tag(config=True)
    cores = Int(1, help="CPUs of each worker job (--cpus-per-task). A job still grades one submission "
                        "at a time; kernels use one thread (OMP_NUM_THREADS=1).").tag(config=True)
    memory = Unicode("8GiB", help="Memory of each worker job (--mem): the homework's memory_mb plus "
                                  "its warm kernel (about 1 GiB with torch).").tag(config=True)
    job_extra_directives = List(Unicode(), help="More #SBATCH options for every worker job, "
                                                "e.g. ['--qos=teaching'].").tag(config=True)
    gpu_job_extra_directives = List(Unicode(), ["--gres=gpu:1"],
                                    help="The #SBATCH options that give a GPU worker job its GPU.").tag(config=True)
    job_script_prologue = List(Unicode(), help="Shell lines run before the worker starts, "
                                               "e.g. ['module load cuda']").tag(config=True)
    cpu_jobs = Int(2, help="Worker jobs without a GPU.").tag(config=True)
    gpu_jobs = Int(0, help="Worker jobs with one GPU each; they advertise the Dask resource GPU=1 "
                           "that homeworks with gpu = \"required\" wait for.").tag(config=True)
    adapt = Bool(False, help="Start jobs as work waits and end idle ones (Dask's adaptive scaling), up to "
                             "cpu_jobs + gpu_jobs; by default they are all submitted at the start "
                             "and kept for the run.").tag(config=True)
    queue_wait_s = Float(1800.0, help="How long a run waits for its first worker job to start "
                                      "(queued jobs) before it gives up.").tag(config=True)
    interface = Unicode(None, allow_none=True, help="Network interface the workers and scheduler use "
                                                    "(e.g. ib0); default: the host's address.").tag(config=True)
    tls = Bool(True, help="TLS between the scheduler and its workers, with certificates made for the run.").tag(
        config=True)
    shared_temp_directory = Unicode("~/.graders/slurm", help="A folder the nodes share (home directories "
                                    "usually are), for the run's TLS certificates.").tag(config=True)
    log_directory = Unicode(None, allow_none=True, help="Folder for the worker jobs' SLURM output.").tag(
        config=True)
    scheduler_options = Dict(help="More options for the Dask scheduler, e.g. {'dashboard_address': ':8787'}."
                             ).tag(config=True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._cluster: GradersSLURMCluster | None = None

    @property
    def size(self) -> int:
        return self.cpu_jobs + self.gpu_jobs

    @property
    def promises_gpu(self) -> bool:
        return self.gpu_jobs > 0

    @property
    def start_wait_s(self) -> float:
        return self.queue_wait_s

    def start(self) -> "GradersSLURMCluster":
        security = None
        if self.tls:
            shared = Path(self.shared_temp_directory).expanduser()
            shared.mkdir(mode=0o700, parents=True, exist_ok=True)
            security = Security.temporary()
        exports = [f"export {name}={value}" for name, value in worker_environment().items()]
        self._cluster = GradersSLURMCluster(
            gpu_jobs=self.gpu_jobs,
            gpu_options={"job_name": GPU_JOB_NAME,
                         "job_extra_directives": self.job_extra_directives + self.gpu_job_extra_directives,
                         "worker_extra_args": ["--resources", "GPU=1"]},
            name="graders", job_name="graders-cpu", cores=1, processes=1, job_cpu=self.cores,
            memory=self.memory, queue=self.queue, account=self.account, walltime=self.walltime,
            job_extra_directives=self.job_extra_directives, job_script_prologue=exports + self.job_script_prologue,
            interface=self.interface, log_directory=self.log_directory, security=security,
            shared_temp_directory=str(Path(self.shared_temp_directory).expanduser()) if self.tls else None,
            scheduler_options={"dashboard_address": ":0", **self.scheduler_options})
        if self.adapt:
            self._cluster.adapt(minimum_jobs=0, maximum_jobs=self.size)
        else:
            self._cluster.scale(jobs=self.size)
        return self._cluster

    def stop(self) -> None:
        """Cancel the worker jobs (scancel); their workers close their kernels on the way out."""
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


class GradersSLURMCluster(SLURMCluster):
    """dask-jobqueue's SLURMCluster whose first `gpu_jobs` worker jobs are GPU jobs (`gpu_options`).

    Workers are named graders-<n>, unique in the run: n is their sandbox slot (see
    graders.dispatch.worker.slot_of). Scaling up adds a GPU job while fewer than `gpu_jobs` are
    asked for (also after adaptive scaling ended one), a CPU job otherwise.
    """

    def __init__(self, *, gpu_jobs: int, gpu_options: dict, **kwargs: object) -> None:
        self.gpu_jobs, self.gpu_options = gpu_jobs, gpu_options
        super().__init__(**kwargs)

    def new_worker_spec(self) -> dict:
        (name, spec), = super().new_worker_spec().items()
        gpus = sum(1 for s in self.worker_spec.values() if s["options"].get("job_name") == GPU_JOB_NAME)
        if gpus < self.gpu_jobs:
            spec = {**spec, "options": {**spec["options"], **self.gpu_options}}
        return {name: spec}
