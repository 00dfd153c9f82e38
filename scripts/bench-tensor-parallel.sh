#!/usr/bin/env bash
# The README's tensor-model-parallel line: the same pretraining run (same global batch 8) on the built-in
# model's shapes (6 layers, hidden 192, 6 heads, sequence 128, vocabulary 30 592) as 1 process × 1 thread,
# 2 processes data parallel (2 × 4 rows) and 2 processes tensor model parallel (--model-parallel-size 2,
# each rank 3 heads and half of the vocabulary and MLP), interleaved ROUNDS times.
#   scripts/bench-tensor-parallel.sh DATA_DIR [ROUNDS]    (release build: swift build -c release --product glm)
#   LAYERS=2 HIDDEN=512 HEADS=8 STEPS=5 scripts/bench-tensor-parallel.sh DATA_DIR 3     (the README's larger shapes)
set -euo pipefail
data=$(cd "$1" && pwd); rounds=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
glm=${GLM:-$root/.build/release/glm}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
model=(--data "$data" --layers "${LAYERS:-6}" --hidden "${HIDDEN:-192}" --heads "${HEADS:-6}" --seq-length 128
       --steps "${STEPS:-10}" --eval-interval 0 --save-interval 0
       --seed 3 --log-interval 100 --threads 1 --dtype fp32)
summary() { tr '\r' '\n' | grep -E "step\(s\) in|collectives|^peak" | sed 's/; now at step.*//' | tr '\n' ' '; echo; }
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  echo "round $r (load $(cut -d' ' -f1 /proc/loadavg))"
  echo -n "  1 process x 1 thread:        "; /usr/bin/time -f "peak %M KiB" "$glm" pretrain "${model[@]}" --batch-size 8 2>&1 | summary
  echo -n "  2 processes data parallel:   "; mpirun -np 2 --oversubscribe "$glm" pretrain "${model[@]}" --batch-size 4 2>&1 | summary
  echo -n "  2 processes tensor parallel: "; mpirun -np 2 --oversubscribe "$glm" pretrain "${model[@]}" --batch-size 8 --model-parallel-size 2 2>&1 | summary
done
