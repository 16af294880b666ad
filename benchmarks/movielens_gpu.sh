#!/usr/bin/env bash
# The MovieLens-1M experiments of docs/strategies.rst and docs/results.rst, run
# at once on one GPU, which one small model leaves mostly idle:
#   - `compare`: the 9 strategies, seed 0, 8 at a time after the single-task models;
#   - the sampling study: rho_min, relation-aware, all users and last position,
#     seeds 0-2, 7 at a time.
# Both save as they go, so a run stopped at the time budget keeps what finished.
#
#   benchmarks/movielens_gpu.sh OUT [SECONDS]
#
# DATASET, DEVICE and COMPARE_ARGS (extra `compare` options) override the
# defaults, e.g. for a dry run on a CPU:
#   DATASET=synthetic DEVICE=cpu COMPARE_ARGS="--epochs 1 --embedding-dim 8" \
#       benchmarks/movielens_gpu.sh /tmp/dry 120
set -u
out=${1:?usage: movielens_gpu.sh OUT [SECONDS]}
budget=${2:-480}
dataset=${DATASET:-movielens-1m}
device=${DEVICE:-cuda}
mkdir -p "$out"
export PYTHONUNBUFFERED=1

# shellcheck disable=SC2086
timeout "$budget" python -m sklearn_teracon compare --dataset "$dataset" \
    --device "$device" --jobs 8 --threads 2 --out "$out/compare" ${COMPARE_ARGS:-} \
    >"$out/compare.log" 2>&1 &
timeout "$budget" python examples/sampling_study.py --dataset "$dataset" \
    --device "$device" --jobs 7 --json "$out/sampling.json" \
    >"$out/sampling.log" 2>&1 &
wait
tail -n 30 "$out/compare.log" "$out/sampling.log"
