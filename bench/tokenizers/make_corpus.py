#!/usr/bin/env python3
"""Writes >= 10 MB of mixed text, one paragraph per line: the King James Bible (Debian's bible-kjv
package, public domain) twice over in two orders, plus Chinese and multilingual lines sampled from
the reference fixtures' tokenizer cases. Generated, never committed."""
import json, random, subprocess, sys, os

out_path, fixtures = sys.argv[1], sys.argv[2]
target = int(sys.argv[3]) if len(sys.argv) > 3 else 10_500_000
rng = random.Random(1234)

kjv = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
verses = [l.split(" ", 1)[1] for l in kjv.splitlines() if " " in l]

texts = []
for fam in ["bert-base-uncased", "gpt2", "roberta", "chinese-sp"]:
    d = json.load(open(os.path.join(fixtures, "tokenizers", fam + ".json")))
    for v in d["variants"]:
        texts += [c["text"] for c in v["cases"]] + [p["prompt"] for p in v["generation_prompts"]]
cjk = [t for t in texts if any("\u4e00" <= ch <= "\u9fff" for ch in t)]
zh_chars = [ch for t in cjk for ch in t if "\u4e00" <= ch <= "\u9fff"]
zh_punct = "，。：；！？"
other = [t.replace("\n", " ") for t in texts if t.strip() and "MASK]" not in t and "<|" not in t and "[CLS]" not in t]

def chinese_line():
    # Sentences of 8-40 characters sampled from the fixtures' Chinese, with punctuation.
    parts = []
    for _ in range(rng.randint(1, 4)):
        parts.append("".join(rng.choice(zh_chars) for _ in range(rng.randint(8, 40))) + rng.choice(zh_punct))
    return "".join(parts)

lines, size = [], 0
order = list(range(len(verses)))
while size < target:
    rng.shuffle(order)
    for k in range(0, len(order), 6):
        r = rng.random()
        if r < 0.80:
            line = " ".join(verses[i] for i in order[k:k + 6])
        elif r < 0.93:
            line = chinese_line()
        else:
            line = " ".join(rng.choice(other) for _ in range(4))
        lines.append(line)
        size += len(line.encode()) + 1
        if size >= target:
            break
with open(out_path, "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
print(f"wrote {out_path}: {size} bytes, {len(lines)} lines", file=sys.stderr)
