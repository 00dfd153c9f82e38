#!/usr/bin/env python3
"""Load benchmark of `glm serve` (issue 15): a second process on 127.0.0.1 drives the server.

Starts `glm serve` (release build) as a child process on a free port, then for each concurrency C runs C
client threads, each sending streamed /v1/completions requests (`ignore_eos`, --max-tokens tokens each)
one after the other. Reported per C: completion tokens/s, request latency p50/p99, time to first token
(first SSE chunk) p50/p99, and the throughput ratio to C = 1 (the same requests one by one). Bounded: each
level runs --requests-per-client requests per client or stops after --level-seconds. RSS of the server
before and after every level (and over an optional --soak-seconds run) shows whether memory stays flat.

Standard library only:  python3 bench/serve/run.py [--random-model glm-base] [--clients 1,4,16,64]
"""
import argparse, http.client, json, os, platform, socket, statistics, subprocess, sys, threading, time

PROMPTS = [
    "And God said, Let there be [MASK]",
    "In the beginning God created the [MASK] and the earth.",
    "The LORD is my shepherd; I shall not [MASK].",
    "Blessed are the [MASK], for they shall inherit the earth.",
    "And the [MASK] was upon the face of the deep.",
    "For God so loved the world, that he gave his only begotten [MASK].",
    "Thou shalt love thy [MASK] as thyself.",
    "A soft answer turneth away [MASK].",
]


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def one_request(port, prompt, max_tokens):
    """Streams one completion; returns (latency s, ttft s, completion tokens)."""
    body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "ignore_eos": True, "stream": True})
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:200]!r}")
    ttft, tokens, buf = None, 0, b""
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            if not event.startswith(b"data: "):
                continue
            data = event[6:]
            if data == b"[DONE]":
                continue
            if ttft is None:
                ttft = time.perf_counter() - start
            c = json.loads(data)["choices"][0]
            if c.get("finish_reason") is None:
                tokens += 1
    conn.close()
    return time.perf_counter() - start, ttft or 0.0, tokens


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def run_level(port, clients, per_client, max_tokens, level_seconds):
    results, errors, lock = [], [], threading.Lock()
    deadline = time.perf_counter() + level_seconds

    def client(k):
        for r in range(per_client):
            if time.perf_counter() > deadline:
                return
            try:
                out = one_request(port, PROMPTS[(k + r) % len(PROMPTS)], max_tokens)
                with lock:
                    results.append(out)
            except Exception as e:  # noqa: BLE001 - reported, not hidden
                with lock:
                    errors.append(str(e))

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads: t.start()
    for t in threads: t.join()
    wall = time.perf_counter() - start
    tokens = sum(r[2] for r in results)
    return {
        "clients": clients, "requests": len(results), "errors": len(errors), "first_error": errors[0] if errors else None,
        "seconds": wall, "tokens": tokens, "tokens_per_s": tokens / wall if wall > 0 else 0,
        "p50_latency": percentile([r[0] for r in results], 50), "p99_latency": percentile([r[0] for r in results], 99),
        "p50_ttft": percentile([r[1] for r in results], 50), "p99_ttft": percentile([r[1] for r in results], 99),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glm", default=".build-release/release/glm", help="the glm binary (release build)")
    ap.add_argument("--model", help="model folder (default: the built-in model)")
    ap.add_argument("--random-model", help="serve random weights of this preset (e.g. glm-base)")
    ap.add_argument("--clients", default="1,4,16,64")
    ap.add_argument("--requests-per-client", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--level-seconds", type=float, default=300)
    ap.add_argument("--soak-seconds", type=float, default=0, help="after the levels: keep 16 clients busy this long, RSS before/after")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()

    port = free_port()
    cmd = [a.glm, "serve", "--port", str(port), "--max-batch", str(a.max_batch), "--max-queue", "1024", "--threads", str(a.threads)]
    if a.model: cmd += ["--model", a.model]
    if a.random_model: cmd += ["--random-model", a.random_model]
    server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        while "glm serve:" not in line:
            if server.poll() is not None:
                sys.exit(f"server exited: {line}")
            line = server.stderr.readline()
        print(line.strip(), flush=True)
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
        print(f"machine: {cpu}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
              f"client: {platform.python_implementation()} {platform.python_version()}", flush=True)
        one_request(port, PROMPTS[0], 4)  # warm-up
        rows = []
        for c in [int(x) for x in a.clients.split(",")]:
            before = rss_mb(server.pid)
            r = run_level(port, c, a.requests_per_client, a.max_tokens, a.level_seconds)
            r["rss_before_mb"], r["rss_after_mb"] = before, rss_mb(server.pid)
            r["load_average_after"] = os.getloadavg()[0]
            rows.append(r)
            print(json.dumps(r), flush=True)
        base = next((r["tokens_per_s"] for r in rows if r["clients"] == 1), None)
        print("\n| clients | requests | tokens/s | × one by one | p50 latency | p99 latency | p50 TTFT | p99 TTFT | RSS before → after |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in rows:
            ratio = f"{r['tokens_per_s'] / base:.2f}×" if base else "—"
            print(f"| {r['clients']} | {r['requests']}{' (' + str(r['errors']) + ' errors)' if r['errors'] else ''} | {r['tokens_per_s']:.1f} | {ratio} "
                  f"| {r['p50_latency']:.3f} s | {r['p99_latency']:.3f} s | {r['p50_ttft']:.3f} s | {r['p99_ttft']:.3f} s "
                  f"| {r['rss_before_mb']:.0f} → {r['rss_after_mb']:.0f} MB |")
        soak = None
        if a.soak_seconds > 0:
            before = rss_mb(server.pid)
            s = run_level(port, 16, 10 ** 9, a.max_tokens, a.soak_seconds)
            soak = {"seconds": s["seconds"], "requests": s["requests"], "errors": s["errors"], "rss_before_mb": before, "rss_after_mb": rss_mb(server.pid)}
            print(f"\nsoak: {s['seconds']:.0f} s, 16 clients, {s['requests']} requests, {s['errors']} errors, RSS {before:.0f} → {soak['rss_after_mb']:.0f} MB")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"command": cmd, "levels": rows, "soak": soak}, f, indent=1)
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
