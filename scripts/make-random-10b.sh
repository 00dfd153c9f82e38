#!/usr/bin/env bash
# make-random-10b.sh [DIR] — a random GLM-10B checkpoint in the ORIGINAL model-parallel layout:
#   DIR/latest_checkpointed_iteration.txt, DIR/latest → "release"
#   DIR/release/mp_rank_0{0..3}_model_states.pt  ({'iteration': 0, 'module': OrderedDict(...)}, fp16 as DeepSpeed saves)
#   DIR/config.json (ignored by the original code)
# GLM-10B's shapes (preset glm-10b: 48 layers, hidden 4096, 64 heads, vocab 50 304, 1 024 positions, block
# position encoding, intermediate 16 384), values at the original's init scale (std 0.02; output
# projections 0.02/√96; LayerNorm 1, biases 0). 19.7 GB, written tensor by tensor (memory ≈ one block).
# The output is NOT part of the repository. Default DIR: /work/glm10b.
#
# Environment: GLM (the glm binary; default: a release build in .build-release), MP (default 4),
# SEED (default 1), LAYERS (override the layer count, e.g. 2 for a quick dry run).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-/work/glm10b}"
mp="${MP:-4}"
seed="${SEED:-1}"
glm="${GLM:-$here/.build-release/release/glm}"
if [[ ! -x "$glm" ]]; then
  echo "make-random-10b.sh: no glm binary at $glm; build it: swift build -c release --scratch-path .build-release (or set GLM=...)" >&2
  exit 1
fi
case "$dir" in
  "$here"|"$here"/*) echo "make-random-10b.sh: $dir is inside the repository; write it elsewhere (e.g. /work/glm10b)" >&2; exit 1 ;;
esac
mkdir -p "$dir"
need_gb=20
[[ -n "${LAYERS:-}" ]] && need_gb=1
avail_gb=$(df -P -BG "$dir" | awk 'NR == 2 { gsub("G", "", $4); print $4 }')
if (( avail_gb < need_gb )); then
  echo "make-random-10b.sh: $dir has ${avail_gb} GB free; GLM-10B in fp16 needs about 20 GB" >&2
  exit 1
fi
layers=()
[[ -n "${LAYERS:-}" ]] && layers=(--layers "$LAYERS")
exec "$glm" random-checkpoint "$dir" --preset glm-10b --mp "$mp" --dtype f16 --seed "$seed" "${layers[@]}"
