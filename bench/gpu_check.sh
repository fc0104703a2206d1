#!/usr/bin/env bash
# The GPU path proven on a machine with an NVIDIA GPU (bench/gpu_check.py says what is checked):
# graders doctor; the four homeworks graded on CPU and on GPU workers with identical verdicts (solution,
# blank release, first N mutants), the device recorded on each attempt; the memory limit (cgroup v2
# where the host delegates one). Appends a dated section to bench/RESULTS.md; exits non-zero on failure.
#
# From a bare clone, as root (or with sudo for apt): `make install` first, its own command (a few
# minutes), then `bash bench/gpu_check.sh` (about 5-8 minutes on a 16-core machine with one GPU).
# Under a 10-minute limit per command, split it: `bash bench/gpu_check.sh --homework hw1_backprop hw4_sgd`,
# then `... --homework hw2_rnn_cnn --skip-class --skip-memory`, then hw3_structured likewise.
# Options: --homework HW..., --mutants N (default 2 per homework; -1: all), --skip-class, --skip-memory.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/graders ] || make install
PYTHONPATH="$PWD" exec .venv/bin/python bench/gpu_check.py "$@"
