#!/usr/bin/env bash
# Writes a small seq2seq task in the `customization` layout that the built-in Bible model can learn
# ("It learns", seq2seq, in README.md): extract a verse's first clause.
#   source = a real King James verse (Debian's bible-kjv-text, read with its `bible` program),
#   target = the verse up to its first comma, semicolon or colon (e.g. "And God said, Let there be
#            light: and there was light." -> "And God said").
# Verses of 8–30 words whose first clause has 2–10 words; no verse twice; shuffled with a fixed seed
# (SEED, default 1234), so the output is the same on every run. 3000 train, 200 val, 200 test examples.
# Output: DIR/{train,val,test}.{source,target}, one example per line, lines paired by number.
#
#   apt-get install -y bible-kjv bible-kjv-text
#   scripts/make-seq2seq-task.sh /tmp/clause-task
set -euo pipefail
OUT=${1:?usage: make-seq2seq-task.sh OUTDIR}
SEED=${SEED:-1234}
mkdir -p "$OUT"
"$(dirname "$0")/kjv-verses.sh" | python3 -c '
import random, re, sys
out, seed = sys.argv[1], int(sys.argv[2])
pairs, seen = [], set()
for line in sys.stdin:
    verse = line.rstrip("\n")
    clause = re.match(r"^([^,;:]*?)\s*[,;:]", verse)
    if verse in seen or not clause or not 8 <= len(verse.split()) <= 30 or not 2 <= len(clause.group(1).split()) <= 10:
        continue
    seen.add(verse)
    pairs.append((verse, clause.group(1)))
random.Random(seed).shuffle(pairs)
sizes = {"train": 3000, "val": 200, "test": 200}
if len(pairs) < sum(sizes.values()):
    sys.exit(f"only {len(pairs)} usable verses, need {sum(sizes.values())}")
start = 0
for split, n in sizes.items():
    part = pairs[start:start + n]
    start += n
    for i, ext in enumerate(("source", "target")):
        with open(f"{out}/{split}.{ext}", "w") as f:
            f.write("".join(p[i] + "\n" for p in part))
print(f"{len(pairs)} usable verses -> {out}: " + ", ".join(f"{n} {s}" for s, n in sizes.items()), file=sys.stderr)
' "$OUT" "$SEED"
