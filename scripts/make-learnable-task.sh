#!/usr/bin/env bash
# Writes a small BoolQ-layout task that the built-in Bible model can learn ("It learns" in README.md):
#   passage  = a real King James verse (Debian's bible-kjv-text, read with its `bible` program),
#   question = "is the lord named in this verse", label true iff the word "lord" (any case, also LORD'S)
#              occurs in the verse; negatives contain no "lord" at all.
# 400 train + 100 dev examples, labels balanced in each split, verses of 6–30 words, no verse twice;
# deterministic (fixed seed). Output: DIR/train.jsonl, DIR/val.jsonl (official BoolQ fields).
#
#   apt-get install -y bible-kjv bible-kjv-text
#   scripts/make-learnable-task.sh /tmp/lord-task
set -euo pipefail
OUT=${1:?usage: make-learnable-task.sh OUTDIR}
SEED=${SEED:-1234}
mkdir -p "$OUT"
"$(dirname "$0")/kjv-verses.sh" | python3 -c '
import json, random, re, sys
out, seed = sys.argv[1], int(sys.argv[2])
verses, seen = [], set()
for line in sys.stdin:
    v = line.rstrip("\n")
    n = len(v.split())
    if 6 <= n <= 30 and v not in seen:
        seen.add(v)
        verses.append(v)
pos = [v for v in verses if re.search(r"\blord\b", v, re.I)]
neg = [v for v in verses if "lord" not in v.lower()]
rng = random.Random(seed)
rng.shuffle(pos)
rng.shuffle(neg)
question = "is the lord named in this verse"
def write(name, p, n):
    ex = [(v, True) for v in p] + [(v, False) for v in n]
    rng.shuffle(ex)
    with open(f"{out}/{name}", "w") as f:
        for i, (v, label) in enumerate(ex):
            f.write(json.dumps({"question": question, "passage": v, "idx": i, "label": label}) + "\n")
write("train.jsonl", pos[:200], neg[:200])
write("val.jsonl", pos[200:250], neg[200:250])
print(f"{len(verses)} verses ({len(pos)} with lord, {len(neg)} without) -> {out}: 400 train, 100 dev", file=sys.stderr)
' "$OUT" "$SEED"
