#!/usr/bin/env bash
# Reproduces the built-in default model Models/glm-kjv-small (see its MODEL_CARD.md):
#   1. the King James Bible from Debian's bible-kjv-text (read with the `bible` program of bible-kjv),
#      one chapter per document; every 40th chapter is held out (validation + cloze test verses);
#   2. `glm data prepare` with the glm-large (BERT WordPiece) tokenizer;
#   3. `glm pretrain` stage 1: a positional warm-up on a synthetic word-cycle corpus (2 000 steps);
#   4. `glm pretrain` stage 2: glm-large's blank-infilling objective on the Bible (8 000 steps);
#   5. `glm pretrain` stage 3: the same with shorter blanks, Poisson(λ = 1) (4 500 steps);
#   6. export in bf16, single-token [MASK] accuracy on 500 held-out verses, copy into Models/.
# Re-running continues an interrupted run from its last checkpoint (the run is bit-identical either way).
#
#   scripts/train-default-model.sh                  # everything (about 80 minutes on 2 cores)
#   WORK=/tmp/kjv-run WARM_STEPS=100 STEPS=100 STEPS3=100 scripts/train-default-model.sh   # a quick trial elsewhere
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$ROOT/.build/kjv-default-model}
OUT=${OUT:-$ROOT/Models/glm-kjv-small}
STEPS=${STEPS:-8000}
WARM_STEPS=${WARM_STEPS:-2000}
STEPS3=${STEPS3:-4500}
THREADS=${THREADS:-2}
GLM=$ROOT/.build/release/glm

if ! command -v bible >/dev/null; then
    echo "needs the KJV text: apt-get install bible-kjv bible-kjv-text" >&2
    exit 1
fi
(cd "$ROOT" && swift build -c release --product glm)
mkdir -p "$WORK"

# 1. Corpus: "Book N" header lines start chapters, "  V text" lines are verses.
if [ ! -s "$WORK/valid-verses.txt" ]; then
    bible -l10000 "Genesis 1:1-Revelation 22:21" 2>/dev/null | awk \
        -v train="$WORK/train.txt" -v valid="$WORK/valid.txt" -v verses="$WORK/valid-verses.txt" -v chapter=-1 '
        function flush() {
            if (text != "") { if (chapter % 40 == 39) print text "\n" > valid; else print text "\n" > train }
            text = ""
        }
        /^[A-Za-z0-9 ]+ [0-9]+$/ { flush(); chapter++; next }
        /^ *[0-9]+ / {
            line = $0; sub(/^ *[0-9]+ /, "", line)
            text = (text == "" ? line : text " " line)
            if (chapter % 40 == 39) print line > verses
            next
        }
        END { flush() }'
fi
echo "corpus: $(grep -c . "$WORK/train.txt") training chapters, $(grep -c . "$WORK/valid.txt") held-out chapters, $(wc -l < "$WORK/valid-verses.txt") held-out verses"

# 2. Token datasets (resumable, deterministic).
"$GLM" data prepare --preset glm-large --input "$WORK/train.txt" --output "$WORK/train-ds"
"$GLM" data prepare --preset glm-large --input "$WORK/valid.txt" --output "$WORK/valid-ds"
# CORPUS_ONLY=1 stops here (scripts/bf16-loss-curve.sh trains on these datasets).
if [ "${CORPUS_ONLY:-0}" = 1 ]; then exit 0; fi

# 3. Stage 1, positional warm-up (see MODEL_CARD "Why the warm-up stage"): a synthetic corpus in which every
#    word is followed by the same next word (400 words of the vocabulary that the Bible does not use, in a
#    fixed cycle; 3 000 documents of 120 words from pseudo-random starting points, Park–Miller generator, so
#    the file is the same with any awk). A blank's first word is then fixed by its left neighbour, which
#    makes the model learn to look at the positions next to a [MASK] — what it cannot learn from the Bible
#    text in the steps this machine affords.
if [ ! -s "$WORK/cycle.txt" ]; then
    awk -v docs=3000 -v len=120 '
        NR > 8000 && NR <= 12000 && $0 ~ /^[a-z][a-z][a-z]+$/ && n < 400 { w[n++] = $0 }
        END {
            s = 12345
            for (d = 0; d < docs; d++) {
                s = (s * 16807) % 2147483647; start = s % n; line = ""
                for (i = 0; i < len; i++) line = line (i ? " " : "") w[(start + i) % n]
                print line "\n"
            }
        }' "$ROOT/Sources/Tokenizers/Vocab/bert-base-uncased-vocab.txt" > "$WORK/cycle.tmp"
    mv "$WORK/cycle.tmp" "$WORK/cycle.txt"
fi
"$GLM" data prepare --preset glm-large --input "$WORK/cycle.txt" --output "$WORK/cycle-ds"
awk 'NR % 2 == 1 && n++ < 300' "$WORK/cycle.txt" | cut -d' ' -f1-12 > "$WORK/cycle-cloze.txt"

# The model: 6 layers, hidden 192, 6 heads, 128 positions (≈ 8.6 M parameters, 17 MB in bf16); position
# tables start as sinusoids. Token-level spans as glm-large (15 %, Poisson(3)), no dropout, constant LR.
# --dtype fp32: the shipped model was trained in fp32 (the command line's default, auto, may pick bf16).
WARM=(--save "$WORK/warm" --log "$WORK/warm/log.jsonl" --threads "$THREADS" --log-interval 50 --dtype fp32)
if [ -f "$WORK/warm/latest_checkpoint" ]; then
    WARM+=(--resume)
else
    WARM+=(--data "$WORK/cycle-ds" --split 1 --tokenizer glm-large
           --layers 6 --hidden 192 --heads 6 --seq-length 128 --max-position 128 --position-init sinusoidal
           --objective-preset glm-large --batch-size 16 --steps "$WARM_STEPS"
           --lr 1e-3 --warmup 0.02 --lr-decay-iters 1500 --lr-decay-style constant --weight-decay 0.1
           --hidden-dropout 0 --seed 1234 --eval-interval 0 --save-interval 250 --keep 2)
fi
"$GLM" pretrain "${WARM[@]}" --cloze-eval "$WORK/cycle-cloze.txt" --cloze-count 300 2>&1 | tee "$WORK/warm.out"

# 4. Stage 2, the Bible: glm-large's blank-infilling objective from the warmed-up weights.
# Stages 2 and 3 end with the same quality report: exact match on 500 held-out verses and four prompts.
CLOZE=(--cloze-eval "$WORK/valid-verses.txt" --cloze-count 500
       --cloze-prompt "In the beginning God created the [MASK] and the earth."
       --cloze-prompt "And God said, Let there be [MASK]: and there was light."
       --cloze-prompt "The LORD is my [MASK]; I shall not want."
       --cloze-prompt "And it came to [MASK], when the king heard it.")
# Runs (or, when its folder has a checkpoint, resumes) one Bible stage: $1 run folder, $2 export folder,
# $3 console log, then the options of a new run.
bible_stage() {
    local dir="$WORK/$1" export="$WORK/$2" out="$WORK/$3"; shift 3
    local args=(--save "$dir" --log "$dir/log.jsonl" --threads "$THREADS" --log-interval 50 --dtype fp32)
    if [ -f "$dir/latest_checkpoint" ]; then args+=(--resume); else args+=("$@"); fi
    "$GLM" pretrain "${args[@]}" --export "$export" --export-dtype bf16 "${CLOZE[@]}" 2>&1 | tee "$out"
}
bible_stage run export2 pretrain.out \
    --load "$WORK/warm" --data "$WORK/train-ds" --valid-data "$WORK/valid-ds" --tokenizer glm-large \
    --seq-length 128 --objective-preset glm-large --batch-size 16 --steps "$STEPS" \
    --lr 1e-3 --warmup 0.01 --lr-decay-style cosine --lr-decay-ratio 0.05 --weight-decay 0.1 \
    --hidden-dropout 0.1 --seed 1234 --eval-interval 500 --eval-iters 20 --save-interval 500 --keep 2

# 5. Stage 3, shorter blanks: the same objective with Poisson(λ = 1) span lengths (a blank is then most
#    often one or two words, as in a cloze question), from the stage-2 weights, at half the learning rate.
bible_stage run3 export pretrain3.out \
    --load "$WORK/run" --data "$WORK/train-ds" --valid-data "$WORK/valid-ds" --tokenizer glm-large \
    --seq-length 128 --objective-preset glm-large --avg-block-length 1 --batch-size 16 --steps "$STEPS3" \
    --lr 5e-4 --warmup 0.01 --lr-decay-style cosine --lr-decay-ratio 0.1 --weight-decay 0.1 \
    --hidden-dropout 0.1 --seed 1234 --eval-interval 500 --eval-iters 20 --save-interval 500 --keep 2

# 6. The model folder (the vocabulary is the shipped BERT vocab, Sources/Tokenizers/Vocab, via tokenizer_preset).
mkdir -p "$OUT"
cp "$WORK/export/config.json" "$WORK/export/model.safetensors" "$OUT/"
SIZE=$(stat -c %s "$OUT/model.safetensors")
echo "wrote $OUT: model.safetensors $SIZE bytes"
if [ "$SIZE" -gt 20000000 ]; then echo "model.safetensors exceeds 20 MB" >&2; exit 1; fi
