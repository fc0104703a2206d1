#!/usr/bin/env bash
# Grading workers as SLURM jobs, for a university cluster (the dask-jobqueue model, with plain sbatch
# so that CPU and GPU workers join ONE scheduler).
#
#   bash config/dask_slurm.sh 8 2        # 8 CPU worker jobs, 2 GPU worker jobs
#   .venv/bin/graders autograde hw2_rnn_cnn --scheduler tcp://$(hostname):8786
#
# Each job runs one single-threaded Dask worker (one sandbox slot). Nodes need the same course
# checkout and .venv path (a shared filesystem) and bubblewrap; workers never get the database
# URL: only the coordinator writes it. GPU workers advertise the `GPU` resource that homeworks with
# `gpu = "required"` wait for; `preferred` homeworks use the GPU when they land on such a worker.
# With Python instead of sbatch: dask_jobqueue.SLURMCluster(cores=1, processes=1,
#   worker_extra_args=["--resources", "GPU=1"], job_extra_directives=["--gres=gpu:1"]).
set -euo pipefail
cd "$(dirname "$0")/.."
CPU_JOBS="${1:-4}"; GPU_JOBS="${2:-0}"; PORT="${PORT:-8786}"; WALLTIME="${WALLTIME:-02:00:00}"
SCHEDULER="tcp://$(hostname):${PORT}"
.venv/bin/dask scheduler --port "$PORT" --dashboard-address :8787 &
trap 'kill %1' EXIT
worker() { echo "#!/bin/bash
cd $(pwd) && exec .venv/bin/dask worker $SCHEDULER --nthreads 1 --nworkers 1 --memory-limit 0 --no-nanny $1"; }
[ "$CPU_JOBS" -gt 0 ] && worker "" | sbatch --array=1-"$CPU_JOBS" --cpus-per-task=1 --mem=8G --time="$WALLTIME" --job-name=graders-cpu
[ "$GPU_JOBS" -gt 0 ] && worker "--resources GPU=1" | sbatch --array=1-"$GPU_JOBS" --cpus-per-task=2 --mem=16G --gres=gpu:1 --time="$WALLTIME" --job-name=graders-gpu
echo "scheduler at $SCHEDULER; Ctrl-C stops it (cancel the jobs with: scancel -n graders-cpu -n graders-gpu)"
wait
