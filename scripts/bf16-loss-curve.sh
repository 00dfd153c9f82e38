#!/usr/bin/env bash
# bf16 mixed precision vs fp32 on the default model's recipe: the same `glm pretrain` run (the shape and
# stage-2 settings of Models/glm-kjv-small — 6 layers, hidden 192, 6 heads, 128 tokens, batch 16,
# glm-large's blank-infilling objective on the King James Bible, lr 1e-3 cosine, dropout 0.1 — from a
# random initialisation, seed 1234) once with --dtype fp32 and once with --dtype bf16, then the two loss
# curves compared step by step. Both runs see the same batches and the same dropout masks, so any
# difference is the arithmetic. Prints the per-step and the 50-step-mean maximum relative deviation and a
# curve summary; exits 1 if the 50-step mean ever deviates by more than 1 %.
#
#   scripts/bf16-loss-curve.sh                         # 1 000 steps each (release build)
#   STEPS=100 scripts/bf16-loss-curve.sh               # a quick trial
#   PARALLEL=1 THREADS=1 scripts/bf16-loss-curve.sh    # both runs at once (results do not depend on threads)
#   COMPARE_ONLY=1 scripts/bf16-loss-curve.sh          # compare the logs as they are (e.g. of unfinished runs)
#   INIT=Models/glm-kjv-small scripts/bf16-loss-curve.sh  # continue a trained model with the stage-3 settings
#                                                      # (λ = 1 spans, lr 5e-4) instead of a random start
# Output (not committed): $OUT/{fp32,bf16}/log.jsonl and the summary on stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$ROOT/.build/kjv-default-model}
OUT=${OUT:-$ROOT/.build/bf16-loss-curve}
STEPS=${STEPS:-1000}
THREADS=${THREADS:-2}
GLM=${GLM:-$ROOT/.build/release/glm}
INIT=${INIT:-}

PARALLEL=${PARALLEL:-0}
COMPARE_ONLY=${COMPARE_ONLY:-0}

run() {
    local dtype=$1 dir="$OUT/$1"
    local args=(--save "$dir" --log "$dir/log.jsonl" --threads "$THREADS" --log-interval 50 --dtype "$dtype")
    if [ -f "$dir/latest_checkpoint" ]; then
        args+=(--resume)
    else
        args+=(--data "$WORK/train-ds" --valid-data "$WORK/valid-ds" --tokenizer glm-large
               --seq-length 128 --objective-preset glm-large --batch-size 16 --steps "$STEPS"
               --weight-decay 0.1 --hidden-dropout 0.1 --seed 1234 --eval-interval 250 --eval-iters 20
               --save-interval 250 --keep 1)
        if [ -n "$INIT" ]; then   # stage 3 of scripts/train-default-model.sh, from $INIT's weights
            args+=(--load "$INIT" --avg-block-length 1 --lr 5e-4 --warmup 0.01 --lr-decay-style cosine --lr-decay-ratio 0.1)
        else                      # stage 2's settings from a random start
            args+=(--layers 6 --hidden 192 --heads 6 --max-position 128 --position-init sinusoidal
                   --lr 1e-3 --warmup 0.01 --lr-decay-style cosine --lr-decay-ratio 0.05)
        fi
    fi
    mkdir -p "$dir"
    "$GLM" pretrain "${args[@]}" > "$OUT/$dtype.out" 2>&1
    echo "== glm pretrain --dtype $dtype"; tail -4 "$OUT/$dtype.out"
}

if [ "$COMPARE_ONLY" != 1 ]; then
    # The corpus and token datasets of the default model (builds the release binary too).
    if [ ! -d "$WORK/train-ds" ] || [ ! -x "$GLM" ]; then WORK="$WORK" CORPUS_ONLY=1 "$ROOT/scripts/train-default-model.sh"; fi
    if [ "$PARALLEL" = 1 ]; then
        run fp32 & run bf16 & wait
    else
        run fp32; run bf16
    fi
fi

python3 - "$OUT/fp32/log.jsonl" "$OUT/bf16/log.jsonl" <<'PY'
import json, sys

def curve(path):
    steps, valid, speed = {}, {}, []
    for line in open(path):
        r = json.loads(line)
        if "loss" in r and "step" in r:
            steps[r["step"]] = r["loss"]
            if "tokens_per_s" in r: speed.append(r["tokens_per_s"])
        if "valid_loss" in r and "step" in r:
            valid[r["step"]] = r["valid_loss"]
    return steps, valid, speed

(f, fv, fs), (b, bv, bs) = curve(sys.argv[1]), curve(sys.argv[2])
common = sorted(set(f) & set(b))
if not common:
    sys.exit("no common steps in the two logs")
rel = {k: abs(b[k] - f[k]) / abs(f[k]) for k in common}
W = 50
def mean(d, k): return sum(d[j] for j in range(k - W + 1, k + 1)) / W
smooth = {k: abs(mean(b, k) - mean(f, k)) / abs(mean(f, k)) for k in common if all(j in f and j in b for j in range(k - W + 1, k + 1))}
worst = max(rel, key=rel.get)
print(f"steps compared: {len(common)} (1 … {common[-1]})")
print(f"per-step loss: max relative deviation {rel[worst] * 100:.2f} % (step {worst}: fp32 {f[worst]:.4f}, bf16 {b[worst]:.4f}); "
      f"mean {sum(rel.values()) / len(rel) * 100:.2f} %")
if smooth:
    ws = max(smooth, key=smooth.get)
    print(f"{W}-step mean loss: max relative deviation {smooth[ws] * 100:.2f} % (at step {ws})")
    late = {k: v for k, v in smooth.items() if k >= 200}
    if late:
        wl = max(late, key=late.get)
        print(f"{W}-step mean loss from step 200 on: max relative deviation {late[wl] * 100:.2f} % (at step {wl})")
    spikes = [k for k in common if max(f[k], b[k]) > 1.5 * min(f[k], b[k])]
    if spikes:
        print("steps where one run's loss is > 1.5x the other's (a loss spike in one run): "
              + ", ".join(f"{k} (fp32 {f[k]:.2f}, bf16 {b[k]:.2f})" for k in spikes[:5]))
print("curve (mean loss over the 100 steps ending at):")
for k in range(100, common[-1] + 1, 100):
    if all(j in f and j in b for j in range(k - 99, k + 1)):
        mf = sum(f[j] for j in range(k - 99, k + 1)) / 100
        mb = sum(b[j] for j in range(k - 99, k + 1)) / 100
        print(f"  step {k:5d}: fp32 {mf:.4f}  bf16 {mb:.4f}  ({(mb - mf) / mf * 100:+.2f} %)")
for k in sorted(set(fv) & set(bv)):
    print(f"  validation at step {k}: fp32 {fv[k]:.4f}  bf16 {bv[k]:.4f}  ({(bv[k] - fv[k]) / fv[k] * 100:+.2f} %)")
if fs and bs:
    print(f"training tokens/s (median of logged steps): fp32 {sorted(fs)[len(fs) // 2]:.0f}, bf16 {sorted(bs)[len(bs) // 2]:.0f}")
sys.exit(1 if smooth and max(smooth.values()) > 0.01 else 0)
PY
