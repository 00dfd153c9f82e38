#!/usr/bin/env bash
# The README's "Distributed training" numbers: the same pretraining run (same global batch) as 1 process × 2
# threads, 2 processes × 1 thread (mpirun, shared memory), 2 processes × 1 thread with ZeRO-1, and 2 "hosts"
# × 1 thread over a veth pair (scripts/mpi-two-hosts.sh, needs root), interleaved ROUNDS times.
#   scripts/bench-distributed.sh DATA_DIR [ROUNDS]      (release build: swift build -c release --product glm)
set -euo pipefail
data=$(cd "$1" && pwd); rounds=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
glm=${GLM:-$root/.build/release/glm}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
model=(--data "$data" --layers 2 --hidden 128 --heads 4 --seq-length 128 --steps 15 --eval-interval 0 --save-interval 0
       --seed 3 --log-interval 100)
summary() { tr '\r' '\n' | grep -E "step\(s\) in|collectives:|^peak" | sed 's/; now at step.*//' | tr '\n' ' '; echo; }
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  echo "round $r"
  echo -n "  1 process x 2 threads: "; /usr/bin/time -f "peak %M KiB" "$glm" pretrain "${model[@]}" --threads 2 --batch-size 8 2>&1 | summary
  echo -n "  1 process x 1 thread:  "; /usr/bin/time -f "peak %M KiB" "$glm" pretrain "${model[@]}" --threads 1 --batch-size 8 2>&1 | summary
  echo -n "  2 processes x 1 thread: "; mpirun -np 2 --oversubscribe "$glm" pretrain "${model[@]}" --threads 1 --batch-size 4 2>&1 | summary
  echo -n "  2 processes, no overlap: "; mpirun -np 2 --oversubscribe "$glm" pretrain "${model[@]}" --threads 1 --batch-size 4 --no-overlap-gradients 2>&1 | summary
  echo -n "  2 processes, ZeRO-1:    "; mpirun -np 2 --oversubscribe "$glm" pretrain "${model[@]}" --threads 1 --batch-size 4 --zero-stage 1 2>&1 | summary
  echo -n "  2 hosts over veth:      "; "$root/scripts/mpi-two-hosts.sh" "$glm" pretrain "${model[@]}" --threads 1 --batch-size 4 2>&1 | summary
done
