#!/usr/bin/env python3
"""Single-threaded reference tokenizers on the benchmark corpus: Hugging Face `tokenizers` (Rust)
built from the same vocab files (BertWordPiece / ByteLevelBPE), the `sentencepiece` library (C++)
for cog-pretrain.model, and — when GLM_ORIGINAL is a THUDM/GLM checkout — the original Python
tokenizers. Prints one JSON object per measurement."""
import json, os, sys, time

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # encode_batch then runs on one thread
corpus, vocab = sys.argv[1], sys.argv[2]
which = sys.argv[3].split(",") if len(sys.argv) > 3 else ["hf", "sp"]
lines = [l for l in open(corpus, encoding="utf-8").read().split("\n") if l]
nbytes = os.path.getsize(corpus)

def timed(name, family, fn, repeats=3):
    best, count = float("inf"), 0
    for _ in range(repeats):
        t = time.perf_counter()
        count = fn()
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"impl": name, "family": family, "tokens": count, "seconds": round(best, 4),
                      "tokens_per_s": round(count / best), "mb_per_s": round(nbytes / 1e6 / best, 2)}), flush=True)

if "hf" in which:
    from tokenizers import BertWordPieceTokenizer, ByteLevelBPETokenizer
    v = lambda f: os.path.join(vocab, f)
    bert = BertWordPieceTokenizer(v("bert-base-uncased-vocab.txt"), lowercase=True, clean_text=True,
                                  handle_chinese_chars=True, strip_accents=True)
    timed("hf-tokenizers", "bert-base-uncased", lambda: sum(len(e.ids) for e in bert.encode_batch(lines, add_special_tokens=False)))
    for fam, vj in [("gpt2", "gpt2-vocab.json"), ("roberta", "roberta-vocab.json")]:
        bpe = ByteLevelBPETokenizer(v(vj), v("gpt2-merges.txt"), add_prefix_space=False)
        timed("hf-tokenizers", fam, lambda: sum(len(e.ids) for e in bpe.encode_batch(lines, add_special_tokens=False)))

if "sp" in which:
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(vocab, "cog-pretrain.model"))
    timed("sentencepiece", "chinese-sp", lambda: sum(len(x) for x in sp.encode(lines, num_threads=1)))

if "orig" in which and os.environ.get("GLM_ORIGINAL"):
    # The original THUDM/GLM tokenizers, with stub modules for what they import but do not need here.
    import tempfile, types
    stub = types.ModuleType
    for name in ["torch", "torch.distributed", "nltk", "nltk.tokenize", "boto3", "botocore", "botocore.exceptions", "tqdm", "requests", "utils"]:
        sys.modules[name] = stub(name)
    sys.modules["torch"].distributed = types.SimpleNamespace(is_initialized=lambda: False)
    sys.modules["nltk"].tokenize = None
    sys.modules["botocore.exceptions"].ClientError = Exception
    sys.modules["tqdm"].tqdm = None
    sys.modules["utils"].print_rank_0 = lambda *a, **k: None
    work = tempfile.mkdtemp()
    os.makedirs(os.path.join(work, ".pytorch_pretrained_bert"))
    os.makedirs(os.path.join(work, "chinese_sentencepiece"))
    for f in os.listdir(vocab):
        dst = "chinese_sentencepiece" if f.startswith("cog-pretrain") else ".pytorch_pretrained_bert"
        os.symlink(os.path.join(vocab, f), os.path.join(work, dst, f))
    for f in ["bert-large-uncased-vocab.txt", "roberta-merges.txt"]:
        src = os.path.join(vocab, "bert-base-uncased-vocab.txt" if f.startswith("bert") else "gpt2-merges.txt")
        if not os.path.exists(os.path.join(work, ".pytorch_pretrained_bert", f)):
            os.symlink(src, os.path.join(work, ".pytorch_pretrained_bert", f))
    sys.path.insert(0, os.environ["GLM_ORIGINAL"])
    os.chdir(work)
    from data_utils.tokenization import make_tokenizer
    for fam, t, mt, task, fix in [("bert-base-uncased", "BertWordPieceTokenizer", "bert-base-uncased", False, False),
                                  ("gpt2", "GPT2BPETokenizer", None, True, False),
                                  ("chinese-sp", "ChineseSPTokenizer", None, True, True)]:
        tok = make_tokenizer(t, None, None, None, mt, add_block_symbols=True, add_task_mask=task,
                             add_decoder_mask=False, add_sentinel_token=0, fix_command_token=fix)
        timed("original-python", fam, lambda: sum(len(tok.EncodeAsIds(l).tokenization) for l in lines), repeats=1)
