"""VectorStore: insert throughput, exact search latency and file size per quantization.

Random unit vectors of 256 dims at 100k (and, with --million, 1M), plus real all-MiniLM-L6-v2 embeddings of
shared-data sentences truncated to 256 dims. faiss IndexFlatIP runs beside it when faiss-cpu is installed.
Writes benchmarks/results/store.md and store.png.
Usage: python benchmarks/bench_store.py [--data ../shared/data] [--million]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_common import DATA, RESULTS, pyplot, write_markdown

DIM = 256


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def real_vectors(data: Path, n: int) -> np.ndarray:
    """all-MiniLM-L6-v2 embeddings (dim 256) of SST-2 and STS-B train sentences, repeated with noise to n."""
    from embedlite import Embedder

    texts = [line.split("\t")[0] for line in (data / "sst2" / "train.tsv").read_text("utf-8").splitlines()[1:]]
    texts += [line.split("\t")[5] for line in (data / "stsb" / "sts-train.csv").read_text("utf-8").splitlines()]
    base = Embedder(device="cpu").embed(texts[:20000], dim=DIM)
    reps = -(-n // len(base))
    rng = np.random.default_rng(1)
    out = np.concatenate([base + rng.normal(scale=0.02 * (r > 0), size=base.shape) for r in range(reps)])[:n]
    return unit(out)


def measure(name: str, vectors: np.ndarray, queries: np.ndarray, quantization: str) -> dict:
    from embedlite import VectorStore

    path = Path(tempfile.mkdtemp()) / "bench.db"
    store = VectorStore(path, dim=DIM, quantization=quantization)
    ids = [str(i) for i in range(len(vectors))]
    start = time.perf_counter()
    for s in range(0, len(vectors), 1000):
        store.add(ids[s:s + 1000], vectors[s:s + 1000])
    insert = len(vectors) / (time.perf_counter() - start)
    store.search(queries[0], k=10)  # loads the matrix
    times = []
    for q in queries:
        t = time.perf_counter()
        store.search(q, k=10)
        times.append((time.perf_counter() - t) * 1000)
    exact = unit(vectors) @ queries.T
    truth = np.argsort(-exact, axis=0)[:10].T
    recall = np.mean([len({int(h.id) for h in store.search(q, k=10)} & set(t.tolist())) / 10
                      for q, t in zip(queries[:50], truth[:50])])
    store.close()
    size = sum(p.stat().st_size for p in path.parent.iterdir())
    return {"set": name, "n": len(vectors), "engine": f"embedlite {quantization}", "insert": insert,
            "p50": np.percentile(times, 50), "p99": np.percentile(times, 99), "recall": recall, "mb": size / 1e6}


def faiss_flat(name: str, vectors: np.ndarray, queries: np.ndarray) -> dict | None:
    try:
        import faiss
    except ImportError:
        return None
    index = faiss.IndexFlatIP(DIM)
    start = time.perf_counter()
    for s in range(0, len(vectors), 1000):
        index.add(vectors[s:s + 1000])
    insert = len(vectors) / (time.perf_counter() - start)
    times = []
    for q in queries:
        t = time.perf_counter()
        index.search(q[None], 10)
        times.append((time.perf_counter() - t) * 1000)
    return {"set": name, "n": len(vectors), "engine": "faiss IndexFlatIP (memory only)", "insert": insert,
            "p50": np.percentile(times, 50), "p99": np.percentile(times, 99), "recall": 1.0,
            "mb": vectors.nbytes / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--million", action="store_true", help="also 1M random vectors (float32 and int8)")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    sets = [("random", unit(rng.normal(size=(100_000, DIM))))]
    sets.append(("MiniLM embeddings", real_vectors(args.data, 100_000)))
    if args.million:
        sets.append(("random", unit(rng.normal(size=(1_000_000, DIM)))))
    rows = []
    for name, vectors in sets:
        picks = vectors[rng.choice(len(vectors), args.queries)]
        queries = unit(picks + rng.normal(scale=0.05, size=(args.queries, DIM)))
        quants = ("float32", "int8") if len(vectors) > 100_000 else ("float32", "float16", "int8", "binary")
        for quantization in quants:
            rows.append(measure(name, vectors, queries, quantization))
            print(rows[-1], flush=True)
        flat = faiss_flat(name, vectors, queries)
        if flat:
            rows.append(flat)
            print(flat, flush=True)

    cmd = "python benchmarks/bench_store.py" + (" --million" if args.million else "")
    lines = [
        "# VectorStore: exact search, insert throughput, file size", "",
        f"Command: `{cmd}`", "",
        f"Machine: {platform.machine()}, 2 cores. 256-dim unit vectors; inserts in batches of 1000 (one "
        f"transaction each, synchronous=FULL); {args.queries} queries, k=10, exact search over the cached matrix; "
        "recall@10 against exact float32 search on 50 queries. Figures from this one run.", "",
        "| set | n | engine | insert vec/s | p50 ms | p99 ms | recall@10 | file MB |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['set']} | {r['n']:,} | {r['engine']} | {r['insert']:,.0f} | {r['p50']:.2f} | "
                     f"{r['p99']:.2f} | {r['recall']:.3f} | {r['mb']:.1f} |")
    write_markdown("store.md", lines)
    plot(rows, RESULTS / "store.png")


def plot(rows, path: Path) -> None:
    plt = pyplot()
    mine = [r for r in rows if r["engine"].startswith("embedlite")]
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [f"{'MiniLM' if r['set'].startswith('MiniLM') else r['set']} {r['n'] // 1000}k {r['engine'].split()[1]}"
              for r in mine]
    ax.bar(range(len(mine)), [r["p50"] for r in mine], color="tab:blue", label="p50")
    ax.scatter(range(len(mine)), [r["p99"] for r in mine], color="tab:red", zorder=3, label="p99")
    ax.set_xticks(range(len(mine)), labels, fontsize=7, rotation=35, ha="right")
    ax.set_ylabel("exact search latency (ms), k=10")
    ax.set_title("VectorStore exact search, 256 dims", fontsize=11)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
