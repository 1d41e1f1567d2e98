"""`embedlite serve` under hostile traffic: does /health stay fast and memory flat?

A real server on 127.0.0.1 (a free port, the shipped default model unless --model, one store) takes, for --seconds
(60 by default), a mix of hostile requests from at most --connections (64) connections, split between four kinds:
- oversized: /v1/embeddings with one 3 MB text, and now and then a 15 MB body (under the 16 MB body limit);
- slow: a store add whose body trickles in a few bytes a second, until the server's --read-timeout answers 408;
- terms: keyword searches of one term repeated 100,000 times, and of 300 distinct terms (refused: the limit is 256);
- idle: connections that send nothing, or half a request line, then wait to be closed (and reconnect).
Beside them, one client (a process of its own, as a health checker is) opens a new connection every 50 ms and asks
GET /health; its latency (p50, p99, max) and the server's peak RSS (VmHWM, and sampled RSS) are the results.
Targets: /health p99 <= 100 ms, RSS < 1 GB.
Traffic only to 127.0.0.1. Run it alone on the machine; it needs embedlite[serve] and psutil.
Writes benchmarks/results/abuse.md (--out another name; a short smoke run: --seconds 5 --out abuse-smoke.md).
Usage: python benchmarks/bench_abuse.py [--seconds 60] [--connections 64] [--model NAME] [--serve-args ARGS]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import platform
import random
import re
import shlex
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench_common import start_server, write_markdown

KINDS = ("oversized", "slow", "terms", "idle")
HEALTH_EVERY = 0.05  # seconds between /health probes
TARGET_P99_MS, TARGET_RSS_MB = 100.0, 1024.0
WORDS = (
    "river stone lamp orchard copper violin harbor meadow ledger falcon quartz saddle tunnel beacon "
    "pepper marble walnut glacier anchor cobalt"
).split()


class Server:
    """embedlite serve in a subprocess, its log in a file."""

    def __init__(self, log: Path, args: list[str]):
        self.log = log
        self.proc, self.port = start_server(log, args)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            conn.close()

    def peak_rss_mb(self) -> float | None:
        """The kernel's high-water mark of the server's resident memory (Linux), or None."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        return int(found.group(1)) / 1024 if found else None

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(120)


def post(path: str, body: bytes, content_length: int | None = None) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if content_length is None else content_length}\r\n\r\n"
    )
    return head.encode() + body


async def read_status(reader: asyncio.StreamReader) -> int:
    """The status of one response, its body read and dropped; 0 where the server closed without one."""
    line = await reader.readline()
    if not line:
        return 0
    status = int(line.split()[1])
    length = 0
    while (header := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


class Attack:
    """The hostile clients: each kind a loop on its own connections, counting what the server answered."""

    def __init__(self, port: int, store: str, model: str):
        self.port, self.store = port, store
        self.counts: dict[str, Counter] = {kind: Counter() for kind in KINDS}
        text3 = " ".join(random.Random(1).choices(WORDS, k=3 * 2**20 // 7))  # ~3 MB of words
        self.oversized = [
            post("/v1/embeddings", json.dumps({"input": text3, "model": model}).encode()),
            post("/v1/embeddings", json.dumps({"input": text3 * 5, "model": model}).encode()),
        ]
        self.terms = [
            post(f"/v1/stores/{store}/search", json.dumps({"query": "river " * 100_000, "mode": "keyword"}).encode()),
            post(
                f"/v1/stores/{store}/search",
                json.dumps({"query": " ".join(f"term{n}" for n in range(300)), "mode": "keyword"}).encode(),
            ),
        ]
        self.slow_body = json.dumps({"ids": ["slow"], "texts": ["x" * 100_000]}).encode()

    async def _connect(self, kind: str):
        """(reader, writer), or None once a refused connection is counted under `kind` (then a short pause)."""
        try:
            return await asyncio.open_connection("127.0.0.1", self.port, limit=2**20)
        except OSError:
            self.counts[kind]["connect failed"] += 1
            await asyncio.sleep(0.1)
            return None

    async def _exchange(self, kind: str, request: bytes) -> None:
        if (connection := await self._connect(kind)) is None:
            return
        reader, writer = connection
        try:
            writer.write(request)
            await writer.drain()
            self.counts[kind][await read_status(reader)] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            self.counts[kind]["reset"] += 1
        finally:
            writer.close()

    async def oversized_loop(self, n: int) -> None:
        while True:
            # one 15 MB body in ten; the rest 3 MB
            await self._exchange("oversized", self.oversized[1] if n % 10 == 0 else self.oversized[0])
            n += 1

    async def terms_loop(self, n: int) -> None:
        while True:
            await self._exchange("terms", self.terms[n % 2])
            n += 1

    async def slow_loop(self, n: int) -> None:
        while True:
            if (connection := await self._connect("slow")) is None:
                continue
            reader, writer = connection
            request = post(f"/v1/stores/{self.store}/add", self.slow_body)
            head = request.index(b"\r\n\r\n") + 4
            try:
                writer.write(request[:head])
                answer = asyncio.ensure_future(read_status(reader))
                at = head
                while not answer.done() and at < len(request):  # 16 bytes a second: the body never finishes
                    writer.write(request[at : at + 16])
                    await writer.drain()
                    at += 16
                    await asyncio.wait([answer], timeout=1.0)
                self.counts["slow"][await answer] += 1
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                self.counts["slow"]["reset"] += 1
            finally:
                writer.close()

    async def idle_loop(self, n: int) -> None:
        while True:
            if (connection := await self._connect("idle")) is None:
                continue
            reader, writer = connection
            try:
                if n % 2:
                    writer.write(b"GET /health HT")  # half a request line, never finished
                self.counts["idle"][await read_status(reader)] += 1  # 0: closed by the server, as it should be
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                self.counts["idle"]["reset"] += 1
            finally:
                writer.close()
            n += 1

    async def run(self, seconds: float, connections: int) -> None:
        loops = {
            "oversized": self.oversized_loop,
            "slow": self.slow_loop,
            "terms": self.terms_loop,
            "idle": self.idle_loop,
        }
        tasks = [asyncio.ensure_future(loops[KINDS[i % len(KINDS)]](i)) for i in range(connections)]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def probe_health(port: int, stop: threading.Event, latencies: list[float], failures: Counter) -> None:
    """GET /health on a new connection every HEALTH_EVERY seconds; latencies in ms (a failure counts 10 s)."""
    while not stop.is_set():
        start = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/health")
            status = conn.getresponse().status
            conn.close()
            if status != 200:
                failures[status] += 1
        except OSError as exc:
            failures[type(exc).__name__] += 1
        latencies.append((time.perf_counter() - start) * 1000)
        stop.wait(HEALTH_EVERY)


def probe_process(port: int, stop, results) -> None:
    """probe_health in a process of its own: the attack's Python work in this one does not delay the probe."""
    latencies: list[float] = []
    failures: Counter = Counter()
    probe_health(port, stop, latencies, failures)
    results.put((latencies, dict(failures)))


def sample_rss(pid: int, stop: threading.Event, peak: list[float]) -> None:
    import psutil

    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], proc.memory_info().rss / 2**20)
        except psutil.Error:
            return
        stop.wait(0.1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the hostile mix runs")
    parser.add_argument("--connections", type=int, default=64, help="hostile connections (at most 64)")
    parser.add_argument("--model", default=None, help="the model to serve (default: the shipped one)")
    parser.add_argument("--serve-args", default="", help="more `embedlite serve` options, quoted")
    parser.add_argument("--out", default="abuse.md", help="file under benchmarks/results")
    args = parser.parse_args()
    if not 1 <= args.connections <= 64:
        raise SystemExit("--connections: 1 to 64")
    with tempfile.TemporaryDirectory() as tmp:
        serve_args = ["--store", f"abuse={Path(tmp) / 'abuse.db'}", *shlex.split(args.serve_args)]
        if args.model:
            serve_args += ["--model", args.model]
        server = Server(Path(tmp) / "serve.log", serve_args)
        try:
            model = server.request("GET", "/v1/models")[1]["data"][0]["id"]
            rng = random.Random(0)
            texts = [" ".join(rng.choices(WORDS, k=12)) for _ in range(200)]
            status, reply = server.request(
                "POST", "/v1/stores/abuse/add", {"ids": [f"doc{n}" for n in range(len(texts))], "texts": texts}
            )
            if status != 200:
                raise SystemExit(f"could not fill the store: {status} {reply}")
            baseline = server.peak_rss_mb()
            context = multiprocessing.get_context("spawn")
            stop, probed, peak = context.Event(), context.Queue(), [0.0]
            prober = context.Process(target=probe_process, args=(server.port, stop, probed))
            sampler = threading.Thread(target=sample_rss, args=(server.proc.pid, stop, peak))
            prober.start()
            sampler.start()
            attack = Attack(server.port, "abuse", model)
            try:
                asyncio.run(attack.run(args.seconds, args.connections))
            finally:
                stop.set()
                latencies, failed = probed.get(timeout=60)
                failures = Counter(failed)
                prober.join()
                sampler.join()
            hwm = server.peak_rss_mb()
            alive = server.request("GET", "/health")[0] == 200
        finally:
            code = server.stop()
        log = server.log.read_text()
    lines = report(args, attack, latencies, failures, peak[0], hwm, baseline, alive, code, log)
    write_markdown(args.out, lines)


def report(args, attack: Attack, latencies, failures, sampled, hwm, baseline, alive, code, log) -> list[str]:
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    rss = hwm if hwm is not None else sampled
    verdict = lambda ok: "met" if ok else "**missed**"  # noqa: E731
    per_kind = args.connections // len(KINDS)
    command = f"python benchmarks/bench_abuse.py --seconds {args.seconds:g} --connections {args.connections}"
    command += f" --model {args.model}" if args.model else ""
    command += f" --serve-args {shlex.quote(args.serve_args)}" if args.serve_args else ""
    lines = [
        "# `embedlite serve` under hostile traffic",
        "",
        f"`{command}` on {platform.machine()} ({platform.system()}), Python {platform.python_version()}.",
        f"{args.connections} hostile connections (~{per_kind} of each kind) for {args.seconds:g} s; /health probed "
        f"from another process on a new connection every {HEALTH_EVERY * 1000:.0f} ms.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| /health p50 | {p50:.1f} ms | |",
        f"| /health p99 | {p99:.1f} ms | <= {TARGET_P99_MS:.0f} ms: {verdict(p99 <= TARGET_P99_MS)} |",
        f"| /health max | {max(latencies, default=float('nan')):.1f} ms | |",
        f"| /health probes (failed) | {len(latencies)} ({sum(failures.values())}: "
        f"{dict(failures) or 'none'}) | none failed: {verdict(not failures)} |",
        f"| server peak RSS | {rss:.0f} MB (before the attack {baseline or float('nan'):.0f} MB; sampled peak "
        f"{sampled:.0f} MB) | < {TARGET_RSS_MB:.0f} MB: {verdict(rss < TARGET_RSS_MB)} |",
        # -15: uvicorn shuts down cleanly on SIGTERM, then re-raises it (the status a supervisor expects of it);
        # 1: --shutdown-grace ran out
        f"| server alive after, exit status on SIGTERM | {'yes' if alive else '**no**'}, {code} | "
        f"yes, -15: {verdict(alive and code == -15)} |",
        f"| tracebacks in the server log | {log.count('Traceback')} | 0 |",
        "",
        "What the hostile requests got (HTTP status; 0: closed without an answer, as idle and half-sent "
        "connections should be):",
        "",
        "| kind | answers |",
        "|---|---|",
    ]
    for kind in KINDS:
        answers = ", ".join(f"{status}: {n}" for status, n in sorted(attack.counts[kind].items(), key=str))
        lines.append(f"| {kind} | {answers or 'none'} |")
    return lines


if __name__ == "__main__":
    main()
