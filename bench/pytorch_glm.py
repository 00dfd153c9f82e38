#!/usr/bin/env python3
"""Plain-PyTorch GLM: the baseline that SwiftGLM is measured against.

This is an independent re-implementation of exactly the math of THUDM/GLM's forward pass
(model/modeling_glm.py + mpu/transformer.py, see ../shared/fixtures/glm-reference/README.md §2):
2-D position embeddings (tables with max_seq+1 rows), pre-LN blocks, fused QKV with rows Q,K,V,
scores = Q·(Kᵀ/√d), mask fill scores·m + (−65504)(1−m), softmax, tanh-GELU, LayerNorm eps 1e-5,
final LayerNorm, logits tied to the word embeddings over the full padded vocabulary, cross-entropy
with a loss mask (Σ loss·mask / Σ mask), AdamW, no dropout.

Modes (one measurement per process, so peak RSS belongs to that workload):
  train    forward + backward + AdamW step on a random GLM-shaped batch
  forward  forward pass without gradients (logits for every position)
  decode   greedy decoding, batch 1, with a K/V cache: prefill P prompt tokens, then N new tokens
  --selfcheck  loads the tiny reference model and compares against the fixtures (fp32)

Prints ONE JSON line per measurement; bench/README.md documents the schema and the workload recipe,
which the Swift side (`glm bench train|forward|decode`) follows too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MASK_FILL = -65504.0
LN_EPS = 1e-5
DEFAULT_VOCAB = 30592
SOP_ID = 30522  # BERT-vocabulary start-of-piece id; the first token fed in decode (clamped to V-1)


# ----------------------------------------------------------------------------------------------
# Model. Module/parameter names equal GLM's state-dict keys so the reference weights load as-is.
# ----------------------------------------------------------------------------------------------

class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.query_key_value = nn.Linear(hidden, 3 * hidden)  # rows [Q; K; V]
        self.dense = nn.Linear(hidden, hidden)

    def forward(self, a: torch.Tensor, mask: torch.Tensor | None, cache=None) -> torch.Tensor:
        """a: [B, q, h] (already LayerNorm'd). mask: [B or 1, 1, q, k] float (1 = attend) or None
        when every key is visible (then the fill s·1 + (−65504)·0 = s is the identity and is skipped).
        cache: (K_buf, V_buf, start) with buffers [B, heads, max_len, d]; the new keys/values are
        written at [start, start+q) and the queries attend to [0, start+q)."""
        b, q, h = a.shape
        qkv = self.query_key_value(a)
        query, key, value = qkv.split(h, dim=-1)
        query = query.view(b, q, self.heads, self.head_dim).transpose(1, 2)
        key = key.view(b, q, self.heads, self.head_dim).transpose(1, 2)
        value = value.view(b, q, self.heads, self.head_dim).transpose(1, 2)
        if cache is not None:
            k_buf, v_buf, start = cache
            k_buf[:, :, start:start + q] = key
            v_buf[:, :, start:start + q] = value
            key = k_buf[:, :, :start + q]
            value = v_buf[:, :, :start + q]
        # GLM divides the keys (not the queries) by sqrt(head_dim).
        scores = torch.matmul(query, key.transpose(-1, -2) / math.sqrt(self.head_dim))
        if mask is not None:
            scores = scores * mask + MASK_FILL * (1.0 - mask)
        probs = torch.softmax(scores, dim=-1)
        context = torch.matmul(probs, value)
        context = context.transpose(1, 2).reshape(b, q, h)
        return self.dense(context)


class MLP(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(hidden, 4 * hidden)
        self.dense_4h_to_h = nn.Linear(4 * hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # F.gelu(approximate="tanh") is 0.5·x·(1 + tanh(0.7978845608028654·(x + 0.044715·x³))),
        # GLM's formula in one fused kernel (the self-check compares it with the original's output).
        return self.dense_4h_to_h(F.gelu(self.dense_h_to_4h(x), approximate="tanh"))


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(hidden, eps=LN_EPS)
        self.attention = Attention(hidden, heads)
        self.post_attention_layernorm = nn.LayerNorm(hidden, eps=LN_EPS)
        self.mlp = MLP(hidden)

    def forward(self, x, mask, cache=None):
        x = x + self.attention(self.input_layernorm(x), mask, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Transformer(nn.Module):
    def __init__(self, layers: int, hidden: int, heads: int, max_seq: int):
        super().__init__()
        self.position_embeddings = nn.Embedding(max_seq + 1, hidden)
        self.block_position_embeddings = nn.Embedding(max_seq + 1, hidden)
        self.layers = nn.ModuleList(Layer(hidden, heads) for _ in range(layers))
        self.final_layernorm = nn.LayerNorm(hidden, eps=LN_EPS)


class GLM(nn.Module):
    def __init__(self, layers: int, hidden: int, heads: int, vocab: int, max_seq: int):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden {hidden} is not divisible by heads {heads}")
        self.layers, self.hidden, self.heads, self.vocab = layers, hidden, heads, vocab
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.transformer = Transformer(layers, hidden, heads, max_seq)

    def init_like_glm(self, generator: torch.Generator):
        """GLM's initialisation: N(0, 0.02) for embeddings, QKV and h→4h; N(0, 0.02/√(2L)) for the
        two output projections; zero biases; LayerNorm weight 1, bias 0. (Irrelevant to speed, but
        it keeps activations in the range real checkpoints produce.)"""
        std, out_std = 0.02, 0.02 / math.sqrt(2.0 * self.layers)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if "layernorm" in name:
                    p.fill_(1.0 if name.endswith("weight") else 0.0)
                elif name.endswith("bias"):
                    p.zero_()
                else:
                    s = out_std if ("attention.dense" in name or "dense_4h_to_h" in name) else std
                    p.copy_(torch.randn(p.shape, generator=generator) * s)

    def embed(self, ids, positions, block_positions):
        t = self.transformer
        return (self.word_embeddings(ids) + t.position_embeddings(positions)
                + t.block_position_embeddings(block_positions))

    def hidden_states(self, ids, position_ids, mask, caches=None, start=0):
        """ids [B,S]; position_ids [B,2,S]; mask [B,1,S,K] or None. Returns final-LN output [B,S,h]."""
        x = self.embed(ids, position_ids[:, 0], position_ids[:, 1])
        for i, layer in enumerate(self.transformer.layers):
            cache = None if caches is None else (caches[i][0], caches[i][1], start)
            x = layer(x, mask, cache)
        return self.transformer.final_layernorm(x)

    def logits(self, h):
        return F.linear(h, self.word_embeddings.weight)  # tied output, no bias, full padded vocab

    def forward(self, ids, position_ids, mask):
        return self.logits(self.hidden_states(ids, position_ids, mask))


def sep_mask(seps: list[int], seq: int, dtype=torch.float32) -> torch.Tensor:
    """GLM's built mask for per-sample sep: lower-triangular ones, then every column < sep is 1
    (part A bidirectional, part B causal). Shape [B, 1, S, S]."""
    tril = torch.tril(torch.ones(seq, seq, dtype=dtype))
    masks = []
    for sep in seps:
        m = tril.clone()
        m[:, :sep] = 1.0
        masks.append(m)
    return torch.stack(masks).unsqueeze(1)


def masked_lm_loss(logits, targets, loss_mask):
    """GLM's pretraining loss: unmasked cross entropy at every position over the full padded
    vocabulary (in float32), then Σ loss·mask / Σ mask."""
    per_token = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                reduction="none").view_as(targets)
    return (per_token * loss_mask).sum() / loss_mask.sum(), per_token


def make_optimizer(model: GLM) -> torch.optim.Optimizer:
    """AdamW as GLM's pretraining configs set it: lr 1e-4, betas (0.9, 0.98), eps 1e-6, weight decay
    0.1. As GLM's get_params_for_weight_decay_optimization: no decay for LayerNorm weights and
    biases nor for any bias; all other weights (incl. the three embedding tables) decay."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if ("layernorm" in name or name.endswith("bias")) else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=1e-4, betas=(0.9, 0.98), eps=1e-6)


# ----------------------------------------------------------------------------------------------
# Workload recipe (bench/README.md, "Workload recipe"; the Swift side follows the same one).
# ----------------------------------------------------------------------------------------------

def make_batch(batch: int, seq: int, vocab: int, generator: torch.Generator):
    """Random GLM-shaped batch: sep = S/2 for every sample; part A (i < sep) has positions i and
    block positions 0; part B (i ≥ sep) has position sep−1 (the [MASK] slot, last token of part A)
    and block positions 1..S−sep; ids and targets uniform in [0, V); loss mask 1 on part B."""
    sep = seq // 2
    ids = torch.randint(0, vocab, (batch, seq), generator=generator)
    targets = torch.randint(0, vocab, (batch, seq), generator=generator)
    i = torch.arange(seq)
    positions = torch.where(i < sep, i, torch.full_like(i, sep - 1))
    block_positions = torch.where(i < sep, torch.zeros_like(i), i - sep + 1)
    position_ids = torch.stack([positions, block_positions]).unsqueeze(0).expand(batch, 2, seq).contiguous()
    loss_mask = (i >= sep).float().unsqueeze(0).expand(batch, seq).contiguous()
    mask = sep_mask([sep] * batch, seq)
    return ids, position_ids, mask, targets, loss_mask


# ----------------------------------------------------------------------------------------------
# FLOP model (shared/docs/perf-notes.md)
# ----------------------------------------------------------------------------------------------

def n_mm(layers, hidden, vocab):
    return 12 * layers * hidden * hidden + vocab * hidden


def flops_per_token(mode, layers, hidden, vocab, seq):
    if mode == "train":
        return 6 * n_mm(layers, hidden, vocab) + 12 * layers * hidden * seq
    return 2 * n_mm(layers, hidden, vocab) + 4 * layers * hidden * seq  # forward; decode: seq = ctx


# ----------------------------------------------------------------------------------------------
# Benchmarks
# ----------------------------------------------------------------------------------------------

def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def autocast_ctx(dtype: str):
    if dtype == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def timed_steps(step, warmup: int, steps: int) -> list[float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def bench_train(a, model: GLM, gen):
    ids, position_ids, mask, targets, loss_mask = make_batch(a.batch_size, a.seq_length, a.vocab, gen)
    opt = make_optimizer(model)
    fwd = torch.compile(model) if a.compile else model
    losses = []

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast_ctx(a.dtype):
            logits = fwd(ids, position_ids, mask)
            loss, _ = masked_lm_loss(logits, targets, loss_mask)
        loss.backward()
        opt.step()
        losses.append(loss.item())

    times = timed_steps(step, a.warmup, a.steps)
    tokens = a.batch_size * a.seq_length
    med = statistics.median(times)
    return {"tokens_per_step": tokens, "times": times, "median": med,
            "gflops": tokens / med * flops_per_token("train", a.layers, a.hidden, a.vocab, a.seq_length) / 1e9,
            "extra": {"loss_first": losses[0], "loss_last": losses[-1]}}


def bench_forward(a, model: GLM, gen):
    ids, position_ids, mask, _, _ = make_batch(a.batch_size, a.seq_length, a.vocab, gen)
    fwd = torch.compile(model) if a.compile else model

    def step():
        with torch.inference_mode(), autocast_ctx(a.dtype):
            fwd(ids, position_ids, mask)

    times = timed_steps(step, a.warmup, a.steps)
    tokens = a.batch_size * a.seq_length
    med = statistics.median(times)
    return {"tokens_per_step": tokens, "times": times, "median": med,
            "gflops": tokens / med * flops_per_token("forward", a.layers, a.hidden, a.vocab, a.seq_length) / 1e9,
            "extra": {}}


def new_caches(model: GLM, max_len: int, dtype):
    d = model.hidden // model.heads
    return [(torch.zeros(1, model.heads, max_len, d, dtype=dtype),
             torch.zeros(1, model.heads, max_len, d, dtype=dtype)) for _ in range(model.layers)]


def prefill(model: GLM, ids, position_ids, caches):
    """Context pass as GLM's generate_samples does it: sep = P, so every prompt token sees the whole
    prompt (all-ones mask). Fills the K/V caches at [0, P)."""
    return model.hidden_states(ids, position_ids, None, caches, 0)


def decode_step(model: GLM, token: int, position: int, block_position: int, caches, start: int) -> int:
    """One new token: position [position, block_position], attends to every cached key and itself
    (GLM's attention_mask=[0] with mems: all ones), logits over the full vocab, greedy argmax."""
    ids = torch.tensor([[token]])
    pos = torch.tensor([[[position], [block_position]]])
    h = model.hidden_states(ids, pos, None, caches, start)
    return int(model.logits(h[:, -1]).argmax(dim=-1).item())


def greedy_generate(model: GLM, prompt, new_tokens: int, dtype) -> tuple[list[int], float]:
    """Prefill the prompt, then feed sop at [P−1, 1] and each chosen token at [P−1, k] (the blank is
    the last prompt slot; block positions restart at 1, as GLM fills a blank). Returns the new ids
    and the seconds spent on the N new tokens (the prefill is excluded)."""
    p = prompt.shape[1]
    caches = new_caches(model, p + new_tokens, torch.float32)
    pos = torch.stack([torch.arange(p), torch.zeros(p, dtype=torch.long)]).unsqueeze(0)
    with torch.inference_mode(), autocast_ctx(dtype):
        prefill(model, prompt, pos, caches)
        token, out = min(SOP_ID, model.vocab - 1), []
        t0 = time.perf_counter()
        for k in range(1, new_tokens + 1):
            token = decode_step(model, token, p - 1, k, caches, p + k - 1)
            out.append(token)
        return out, time.perf_counter() - t0


def bench_decode(a, model: GLM, gen):
    p, n = a.prompt_len, a.new_tokens
    prompt = torch.randint(0, a.vocab, (1, p), generator=gen)
    for _ in range(a.warmup):
        greedy_generate(model, prompt, n, a.dtype)
    # A "step" of decode is one new token: each timed generation gives its mean time per token,
    # and the median over the timed generations is reported.
    times = [greedy_generate(model, prompt, n, a.dtype)[1] / n for _ in range(a.steps)]
    med = statistics.median(times)
    # Context of new token k (1-based) is P + k keys.
    flops = sum(flops_per_token("decode", a.layers, a.hidden, a.vocab, p + k) for k in range(1, n + 1)) / n
    return {"tokens_per_step": 1, "times": times, "median": med, "gflops": flops / med / 1e9,
            "extra": {"prompt_len": p, "new_tokens": n}}


def run_benchmark(a) -> dict:
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(a.threads)
    gen = torch.Generator().manual_seed(a.seed)
    max_seq = a.prompt_len + a.new_tokens if a.mode == "decode" else a.seq_length
    model = GLM(a.layers, a.hidden, a.heads, a.vocab, max_seq)
    model.init_like_glm(gen)
    if a.mode == "train":
        model.train()  # no dropout exists, so train/eval only differ in name
        r = bench_train(a, model, gen)
    elif a.mode == "forward":
        model.eval()
        r = bench_forward(a, model, gen)
    else:
        model.eval()
        r = bench_decode(a, model, gen)
    seq = max_seq
    batch = 1 if a.mode == "decode" else a.batch_size
    out = {"impl": "pytorch", "mode": a.mode, "layers": a.layers, "hidden": a.hidden, "heads": a.heads,
           "seq": seq, "batch": batch, "vocab": a.vocab, "dtype": a.dtype, "threads": a.threads,
           "tokens_per_s": round(r["tokens_per_step"] / r["median"], 3),
           "step_ms_median": round(r["median"] * 1e3, 3),
           "peak_rss_mb": round(peak_rss_mb(), 1),
           "gflops": round(r["gflops"], 2),
           "steps": a.steps, "warmup": a.warmup, "compile": a.compile,
           "step_ms_all": [round(t * 1e3, 2) for t in r["times"]],
           "torch": torch.__version__}
    out.update(r["extra"])
    return out


# ----------------------------------------------------------------------------------------------
# Self-check against the reference fixtures
# ----------------------------------------------------------------------------------------------

_ST_DTYPES = {"F32": torch.float32, "I64": torch.int64, "F64": torch.float64, "I32": torch.int32}


def read_safetensors(path: str) -> dict[str, torch.Tensor]:
    """Minimal safetensors reader (8-byte little-endian header length, JSON header, raw data), so
    the self-check needs nothing beyond torch."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        dtype = _ST_DTYPES[info["dtype"]]
        t = torch.frombuffer(bytearray(data[lo:hi]), dtype=dtype) if hi > lo else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"])
    return out


def fixtures_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "shared", "fixtures", "glm-reference"))


def load_fixture_model(fixtures: str, name: str) -> GLM:
    model_dir = os.path.join(fixtures, "models", name)
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    model = GLM(cfg["num_layers"], cfg["hidden_size"], cfg["num_attention_heads"],
                cfg["vocab_size_padded"], cfg["max_sequence_length"])
    model.load_state_dict(read_safetensors(os.path.join(model_dir, "model.safetensors")), strict=True)
    return model.eval()


def sharp_generation_checks(fixtures: str):
    """Greedy blank filling with the K/V cache on the `-sharp` model (weights ×22, so activations are
    large enough that e.g. an erf-GELU or a wrong position would change the ids): every prompt's
    generated ids must match exactly, and the per-step logits of prompts 0 and 1 within 1e-4."""
    model = load_fixture_model(fixtures, "glm-tiny-bert-sharp")
    spec = json.load(open(os.path.join(fixtures, "generate", "glm-tiny-bert-sharp.json")))
    ref_logits = read_safetensors(os.path.join(fixtures, "generate", "glm-tiny-bert-sharp-forward.safetensors"))
    max_new = 10  # out_seq_length of the fixture's greedy settings
    ids_ok, n_blanks, worst_logit = True, 0, 0.0
    with torch.no_grad():
        for pi, prompt in enumerate(spec["greedy"]):
            ctx = prompt["context_ids"]
            caches = new_caches(model, len(ctx) + (1 + max_new) * len(prompt["mask_positions"]), torch.float32)
            pos = torch.stack([torch.arange(len(ctx)), torch.zeros(len(ctx), dtype=torch.long)]).unsqueeze(0)
            prefill(model, torch.tensor([ctx]), pos, caches)
            start = len(ctx)
            for bj, (mask_pos, blank) in enumerate(zip(prompt["mask_positions"], prompt["blanks"])):
                token, generated = SOP_ID, []
                for k in range(1, max_new + 1):
                    h = model.hidden_states(torch.tensor([[token]]), torch.tensor([[[mask_pos], [k]]]),
                                            None, caches, start)
                    start += 1
                    logits = model.logits(h[:, -1])[0]
                    key = f"prompt{pi}.blank{bj}.step{k - 1}.logits"
                    if key in ref_logits:
                        worst_logit = max(worst_logit, (logits - ref_logits[key]).abs().max().item())
                    token = int(logits.argmax().item())
                    if token in prompt["end_tokens"]:
                        break
                    generated.append(token)
                n_blanks += 1
                ids_ok &= generated == blank["generated_ids"]
    return [(f"sharp greedy decode: generated ids of {len(spec['greedy'])} prompts / {n_blanks} blanks",
             0.0 if ids_ok else float("inf"), 0.0),
            ("sharp greedy decode: per-step logits, prompts 0-1", worst_logit, 1e-4)]


def selfcheck(fixtures: str) -> int:
    torch.set_num_threads(2)
    if not os.path.isdir(fixtures):
        print(f"selfcheck: fixture folder not found: {fixtures}", file=sys.stderr)
        return 2
    model = load_fixture_model(fixtures, "glm-tiny-bert")

    results = []  # (name, max_abs_diff, tolerance)

    def check(name, got, want, tol):
        diff = (got.detach().double() - want.double()).abs().max().item()
        results.append((name, diff, tol))

    def check_exact(name, got, want):
        results.append((name, 0.0 if torch.equal(got, want) else float("inf"), 0.0))

    # Forward: single sequence (scalar sep) and batch of two (per-sample sep, right padding).
    for case in ("single", "batch2"):
        inp = json.load(open(os.path.join(fixtures, "forward", f"glm-tiny-bert-{case}.json")))
        ref = read_safetensors(os.path.join(fixtures, "forward", f"glm-tiny-bert-{case}.safetensors"))
        ids = torch.tensor(inp["input_ids"])
        pos = torch.tensor(inp["position_ids"])
        seps = inp["attention_mask"] * (ids.shape[0] if len(inp["attention_mask"]) == 1 else 1)
        with torch.no_grad():
            h = model.hidden_states(ids, pos, sep_mask(seps, ids.shape[1]))
            logits = model.logits(h)
        check(f"forward {case}: hidden_states", h, ref["hidden_states"], 1e-5)
        check(f"forward {case}: logits_last2", logits[:, -2:], ref["logits_last2"], 1e-5)
        check(f"forward {case}: logsumexp", torch.logsumexp(logits, -1), ref["logsumexp"], 1e-5)
        check_exact(f"forward {case}: argmax", logits.argmax(-1), ref["argmax"])

    # Decode with the K/V cache: prefill pass1, then the single-token steps pass2 and pass3.
    inp = json.load(open(os.path.join(fixtures, "forward", "glm-tiny-bert-mems.json")))
    ref = read_safetensors(os.path.join(fixtures, "forward", "glm-tiny-bert-mems.safetensors"))
    p1 = inp["pass1"]
    ctx = torch.tensor(p1["input_ids"])
    caches = new_caches(model, ctx.shape[1] + 2, torch.float32)
    with torch.no_grad():
        h = prefill(model, ctx, torch.tensor(p1["position_ids"]), caches)
        check("decode pass1 (prefill): hidden_states", h, ref["pass1.hidden_states"], 1e-5)
        start = ctx.shape[1]
        step_argmax = {}
        for name in ("pass2", "pass3"):
            step = inp[name]
            h = model.hidden_states(torch.tensor(step["input_ids"]), torch.tensor(step["position_ids"]),
                                    None, caches, start)
            start += 1
            check(f"decode {name}: hidden_states", h, ref[f"{name}.hidden_states"], 1e-5)
            logits = model.logits(h)
            check(f"decode {name}: logits", logits, ref[f"{name}.logits"], 1e-5)
            step_argmax[name] = logits.argmax(-1).flatten()
    # The greedy loop itself: the original fed pass2's argmax as pass3's input.
    check_exact("decode: our pass2 argmax == the original's pass3 input",
                step_argmax["pass2"], torch.tensor(inp["pass3"]["input_ids"]).flatten())

    # Training: loss with loss mask and the gradients of every parameter.
    inp = json.load(open(os.path.join(fixtures, "train", "glm-tiny-bert-loss.json")))
    ref = read_safetensors(os.path.join(fixtures, "train", "glm-tiny-bert-loss.safetensors"))
    ids = torch.tensor(inp["text"])
    model.zero_grad(set_to_none=True)
    logits = model(ids, torch.tensor(inp["position_id"]), sep_mask(inp["attention_mask"], ids.shape[1]))
    loss, per_token = masked_lm_loss(logits, torch.tensor(inp["target"]), torch.tensor(inp["loss_mask"]).float())
    loss.backward()
    check("train: loss", loss.reshape(1), ref["loss"], 1e-5)
    check("train: per_token_loss", per_token, ref["per_token_loss"], 1e-5)
    worst_grad, worst_name = 0.0, ""
    for name, p in model.named_parameters():
        diff = (p.grad.double() - ref[f"grad.{name}"].double()).abs().max().item()
        if diff >= worst_grad:
            worst_grad, worst_name = diff, name
    results.append((f"train: gradients, all {len(list(model.parameters()))} tensors (worst: {worst_name})",
                    worst_grad, 1e-5))

    results += sharp_generation_checks(fixtures)

    ok = True
    print(f"selfcheck against {fixtures} (torch {torch.__version__}, float32)")
    for name, diff, tol in results:
        passed = diff <= tol
        ok &= passed
        print(f"  {'ok  ' if passed else 'FAIL'} {name}: max abs diff {diff:.3e} (tolerance {tol:g})")
    print("selfcheck", "PASSED" if ok else "FAILED")
    return 0 if ok else 1


# ----------------------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", nargs="?", choices=["train", "forward", "decode"], help="what to measure")
    ap.add_argument("--selfcheck", action="store_true", help="compare with the reference fixtures and exit")
    ap.add_argument("--fixtures", default=fixtures_dir(), help="glm-reference folder (default: %(default)s)")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=DEFAULT_VOCAB)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                    help="bf16 = torch.autocast('cpu', bfloat16) around the forward (fp32 master weights)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (decode: timed generations)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--prompt-len", type=int, default=128, help="decode: prompt tokens P")
    ap.add_argument("--new-tokens", type=int, default=128, help="decode: new tokens N")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (train/forward)")
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args(argv)
    if not a.selfcheck and a.mode is None:
        ap.error("give a mode (train, forward, decode) or --selfcheck")
    if a.steps < 1 or a.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")
    if a.mode == "decode" and a.compile:
        ap.error("--compile is only supported for train and forward")
    if a.mode == "decode" and (a.prompt_len < 1 or a.new_tokens < 1):
        ap.error("--prompt-len and --new-tokens must be >= 1")
    if a.mode in ("train", "forward") and a.seq_length < 2:
        ap.error("--seq-length must be >= 2 (part A and part B)")
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    if a.selfcheck:
        return selfcheck(a.fixtures)
    print(json.dumps(run_benchmark(a)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
