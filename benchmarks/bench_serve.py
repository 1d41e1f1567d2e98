"""`embedlite serve` under load: 1, 8, 32 and 128 concurrent clients for a fixed time, one sentence or 32
sentences per request, beside the in-process Embedder.embed throughput of the same STS-B test sentences.

The load comes from wrk (Debian: apt-get install wrk), a separate C process, so the client costs the 2 cores
little; a Lua script posts /v1/embeddings bodies with different sentences (base64 vectors back, as the openai
client asks) and counts status codes. Beside it, a thread polls /health (the server must answer while busy) and
the server's RSS. Before each level the server's queue drains (wrk leaves its last requests queued). With the
server's defaults (--max-queue 1024 texts, --max-batch 32), 128 clients with 32 sentences offer 4x the queue
limit: the answer must be 429 beyond capacity, never 5xx. Traffic only to 127.0.0.1. Run it alone on the machine.
Writes benchmarks/results/serve.md (--out another name, e.g. with --serve-args '--workers 2').
Usage: python benchmarks/bench_serve.py [--duration 20] [--clients 1,8,32,128] [--sizes 1,32] [--serve-args ARGS]
       [--out serve.md]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_common import DATA, default_model_label, start_server, write_markdown
from bench_embed import sentences

WRK_SCRIPT = r"""
local bodies, threads, counter = {}, {}, 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  statuses = {}
  at = (id * 7919) % #bodies
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  at = at % #bodies + 1
  return wrk.format(nil, "/v1/embeddings", nil, bodies[at])
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do merged[tostring(code)] = (merged[tostring(code)] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(merged) do parts[#parts + 1] = string.format('"%s": %d', code, n) end
  local e = summary.errors
  io.write(string.format('RESULT {"duration_us": %d, "p50_us": %d, "p99_us": %d, "statuses": {%s}, ' ..
    '"socket_errors": %d}\n', summary.duration, latency:percentile(50), latency:percentile(99),
    table.concat(parts, ", "), e.connect + e.read + e.write + e.timeout))
end
"""


def in_process(model, texts: list[str], rounds: int = 3) -> dict:
    """Embedder.embed sentences/s (best of `rounds`): batch 32 over the whole list (length-sorted, as embed()
    does), 32 random sentences per call (what a server's batches of concurrent requests hold), and batch 1."""
    shuffled = random.Random(0).sample(texts, len(texts))
    calls = {
        "batch32": lambda: model.embed(texts, batch_size=32, show_progress=False),
        "random32": lambda: [model.embed(shuffled[i : i + 32]) for i in range(0, len(shuffled), 32)],
        "batch1": lambda: [model.embed([text]) for text in texts[:300]],
    }
    best = dict.fromkeys(calls, 0.0)
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            best[name] = max(best[name], (300 if name == "batch1" else len(texts)) / (time.perf_counter() - start))
    return best


def batch32(model, texts: list[str]) -> float:
    """In-process batch-32 sentences/s, once (the server idle beside it)."""
    start = time.perf_counter()
    model.embed(texts, batch_size=32, show_progress=False)
    return len(texts) / (time.perf_counter() - start)


class Server:
    """embedlite serve on 127.0.0.1 (a free port), its RSS and /health sampled while a level runs."""

    def __init__(self, log: Path, extra: list[str]):
        self.log = log
        self.proc, self.port = start_server(log, extra)
        self.max_queue = self.get("/health")["max_queue"]
        self.model = self.get("/v1/models")["data"][0]["id"]  # the name requests must ask for

    def get(self, path: str) -> dict:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def drain(self) -> None:
        """Wait until the texts of the last level's unanswered requests are done (wrk leaves them queued)."""
        while self.get("/health")["queued_texts"]:
            time.sleep(0.2)

    def watch(self, stop: threading.Event, out: dict) -> None:
        import psutil

        proc = psutil.Process(self.proc.pid)
        out.update(rss_mb=0.0, health_max_ms=0.0, health_failures=0)
        while not stop.is_set():
            out["rss_mb"] = max(out["rss_mb"], proc.memory_info().rss / 2**20)
            start = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/health")
                ok = conn.getresponse().status == 200
                conn.close()
            except OSError:
                ok = False
            out["health_max_ms"] = max(out["health_max_ms"], (time.perf_counter() - start) * 1000)
            out["health_failures"] += not ok
            stop.wait(0.25)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def bodies(texts: list[str], size: int, model: str, path: Path) -> Path:
    rng = random.Random(size)
    lines = [
        json.dumps(
            {"input": texts[i] if size == 1 else rng.sample(texts, size), "model": model, "encoding_format": "base64"}
        )
        for i in range(len(texts) if size == 1 else 512)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_level(server: Server, script: Path, body_file: Path, clients: int, duration: int) -> dict:
    stop, watched = threading.Event(), {}
    watcher = threading.Thread(target=server.watch, args=(stop, watched))
    watcher.start()
    cmd = [
        "wrk",
        "-t",
        str(min(clients, 2)),
        "-c",
        str(clients),
        "-d",
        f"{duration}s",
        "--timeout",
        "60s",
        "-s",
        str(script),
        f"http://127.0.0.1:{server.port}",
        "--",
        str(body_file),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        stop.set()
        watcher.join()
    found = re.search(r"^RESULT (.*)$", done.stdout, re.M)
    if done.returncode or not found:
        raise SystemExit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    return {**json.loads(found.group(1)), **watched}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--duration", type=int, default=20, help="seconds per level")
    parser.add_argument("--clients", default="1,8,32,128")
    parser.add_argument("--sizes", default="1,32", help="sentences per request")
    parser.add_argument("--serve-args", default="", help="more flags for embedlite serve, e.g. '--workers 2'")
    parser.add_argument("--out", default="serve.md", help="file name under benchmarks/results")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk: apt-get install wrk")
    texts = sentences(args.data)
    from embedlite import Embedder

    model = Embedder(device="cpu")
    model.embed(texts[:64])  # warm-up
    baseline = in_process(model, texts)
    print(f"in process: {baseline}", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        server = Server(Path(tmp) / "serve.log", args.serve_args.split())
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                body_file = bodies(texts, size, server.model, Path(tmp) / f"bodies{size}.jsonl")
                for clients in (int(c) for c in args.clients.split(",")):
                    # This machine's speed drifts over minutes (a shared host): each level is compared with the
                    # in-process rate measured just before and just after it, the server idle.
                    server.drain()
                    before = batch32(model, texts)
                    result = run_level(server, script, body_file, clients, args.duration)
                    server.drain()
                    rows.append({"clients": clients, "size": size, **result, "beside": (before, batch32(model, texts))})
                    if "200" not in result["statuses"]:
                        raise SystemExit(f"no request was answered 200: {result['statuses']}")
                    print(f"{clients} clients x {size}: {rows[-1]}", file=sys.stderr)
        finally:
            server.stop()
    write_markdown(args.out, report(rows, baseline, server.max_queue, args, default_model_label()))


def report(rows: list[dict], base: dict, queue: int, args, model: str) -> list[str]:
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("[")[0].strip()
    lines = [
        f"# embedlite serve under load: {model} (the embedded default), CPU",
        "",
        f"Command: `python benchmarks/bench_serve.py --duration {args.duration} --clients {args.clients} "
        f"--sizes {args.sizes}" + (f" --serve-args '{args.serve_args}'`" if args.serve_args else "`"),
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load from {wrk} "
        f"on the same machine. Server: `embedlite serve {args.serve_args}` (queue limit {queue} texts"
        f"{'' if '--workers' in args.serve_args else '; workers: the default, one per core'}), base64 responses. "
        "Sentences: STS-B test.",
        "",
        f"In process, the same sentences, before the levels (best of 3): Embedder.embed batch 32 "
        f"{base['batch32']:.1f} sentences/s, 32 random sentences per call {base['random32']:.1f}, batch 1 "
        f"{base['batch1']:.1f}. Each level is compared with in-process batch 32 measured beside it: the mean of "
        "one pass just before and one just after the level (this shared host's speed drifts by 20% over minutes).",
        "",
        "| clients | sentences/request | texts in flight / queue limit | requests/s | sentences/s (200s) "
        "| in-process batch 32 beside it | vs in-process batch 32 | vs 32 random per call "
        "| p50 ms | p99 ms | 200 | 429 | 5xx | other | server RSS MB | /health max ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        seconds = r["duration_us"] / 1e6
        statuses = {int(k): v for k, v in r["statuses"].items()}
        ok, busy = statuses.get(200, 0), statuses.get(429, 0)
        server_errors = sum(v for k, v in statuses.items() if k >= 500)
        other = sum(v for k, v in statuses.items() if k not in (200, 429) and k < 500) + r["socket_errors"]
        rate = ok * r["size"] / seconds
        beside = sum(r["beside"]) / 2
        failed = f" ({r['health_failures']} failed)" if r["health_failures"] else ""
        lines.append(
            f"| {r['clients']} | {r['size']} | {r['clients'] * r['size'] / queue:.2f} "
            f"| {sum(statuses.values()) / seconds:.1f} | {rate:.1f} | {beside:.1f} "
            f"| {rate / beside:.0%} | {rate / base['random32']:.0%} "
            f"| {r['p50_us'] / 1000:.1f} | {r['p99_us'] / 1000:.1f} | {ok} | {busy} | {server_errors} | {other} "
            f"| {r['rss_mb']:.0f} | {r['health_max_ms']:.0f}{failed} |"
        )
    lines += ["", "p50/p99 are over every answered request, 429s included (they come back at once)."]
    return lines


if __name__ == "__main__":
    main()
