#!/usr/bin/env bash
# Tokenizer benchmark: SwiftGLM's tokenizers vs Hugging Face `tokenizers` (and sentencepiece), one
# thread each, on >= 10 MB of mixed text. Usage: bench/tokenizers/run.sh  (from anywhere)
#   GLM_ORIGINAL=/path/to/THUDM-GLM-checkout  also times the original Python tokenizers (slow).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
VENV="$ROOT/bench/.venv"
FIXTURES="${GLM_FIXTURES:-$ROOT/../shared/fixtures/glm-reference}"
VOCAB="$ROOT/Sources/Tokenizers/Vocab"

if ! command -v bible >/dev/null; then
    echo "installing Debian's bible-kjv (public-domain corpus)..." >&2
    apt-get install -y bible-kjv >/dev/null
fi
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c "import tokenizers, sentencepiece" 2>/dev/null || "$VENV/bin/pip" install -q tokenizers sentencepiece

CORPUS="$OUT/corpus.txt"
[ -s "$CORPUS" ] || "$VENV/bin/python" "$ROOT/bench/tokenizers/make_corpus.py" "$CORPUS" "$FIXTURES"

(cd "$ROOT" && swift build -c release --product glm >&2)
GLM="$(cd "$ROOT" && swift build -c release --show-bin-path)/glm"

RESULTS="$OUT/tokenizers.jsonl"; : > "$RESULTS"
for preset in glm-large glm-10b glm-roberta-large glm-10b-chinese; do
    "$GLM" tokenize --preset "$preset" --bench "$CORPUS" | tee -a "$RESULTS" >&2
done
# The linear-time check: the whole 10 MB file as ONE input string.
for preset in glm-large glm-10b glm-10b-chinese; do
    "$GLM" tokenize --preset "$preset" --bench "$CORPUS" --whole --repeats 1 | tee -a "$RESULTS" >&2
done
WHICH="hf,sp"; [ -n "${GLM_ORIGINAL:-}" ] && WHICH="hf,sp,orig"
"$VENV/bin/python" "$ROOT/bench/tokenizers/reference.py" "$CORPUS" "$VOCAB" "$WHICH" | tee -a "$RESULTS" >&2

"$VENV/bin/python" - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("\n| family | implementation | mode | tokens | seconds | tokens/s | MB/s |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    impl = r.get("impl", "SwiftGLM " + r.get("preset", ""))
    print(f"| {r['family']} | {impl} | {r.get('mode', 'lines')} | {r['tokens']} | {r['seconds']:.3f} | {r['tokens_per_s']:,.0f} | {r['mb_per_s']:.2f} |")
PY
