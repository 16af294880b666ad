#!/usr/bin/env bash
# One prepared GPU check for a lent machine (issue #21), writing JSON as it goes:
#   1. throughput at the paper's size: the first task, a later item task at
#      batch 1024 and inference, fp32 then bf16, with the device's matmul
#      peaks measured in the same run (benchmarks/run.py);
#   2. where the machine has two GPUs or more: the same training cases on 2
#      processes under torchrun (NCCL), against 1;
#   3. the MovieLens-1M comparison of all strategies in parallel processes
#      (benchmarks/movielens_gpu.sh), in the time that is left.
#
#   benchmarks/gpu_check.sh OUT [SECONDS]
#
# skorch is not installed on the lent machines: carry its wheel and install it
# first (see the device README). Every part has its own timeout, so a check
# cut short keeps the JSON of what finished.
set -u
out=${1:?usage: gpu_check.sh OUT [SECONDS]}
budget=${2:-540}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }

nvidia-smi --query-gpu=name,memory.total --format=csv >"$out/gpus.csv" 2>&1
n_gpus=$(($(wc -l <"$out/gpus.csv") - 1))

for precision in float32 bfloat16; do
    timeout $(($(left) / 3)) python -m benchmarks.run --device cuda --size paper \
        --cases first item inference --epochs 1 --precision "$precision" \
        --json "$out/throughput_$precision.json" >"$out/throughput_$precision.log" 2>&1
done
if [ "$n_gpus" -ge 2 ]; then
    timeout $(($(left) / 2)) python -m benchmarks.run --device cuda --size paper \
        --cases first item --epochs 1 --nproc 2 --precision bfloat16 \
        --json "$out/two_gpus.json" >"$out/two_gpus.log" 2>&1
fi
if [ "$(left)" -gt 60 ]; then
    benchmarks/movielens_gpu.sh "$out/movielens" "$(left)"
fi
tail -n 12 "$out"/*.log
