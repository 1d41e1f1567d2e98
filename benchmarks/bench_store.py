"""VectorStore: insert throughput, exact and HNSW search latency, recall and file size, beside faiss and sqlite-vec.

Sets of 256-dim unit vectors at 100k and, with --million, 1M: random (the worst case for any graph index:
neighbours in 256 random dims are barely closer than the rest), searched with 200 noisy copies of stored vectors;
and all-MiniLM-L6-v2 embeddings of 100k distinct real texts from ../shared/data (grown to 1M by interpolation, see
real_vectors), searched with 200 held-out STS-B test sentences. recall@10 is against exact float32 search.
faiss-cpu (IndexFlatIP, IndexHNSWFlat with the same M and ef) and sqlite-vec (vec0 exact KNN) run when installed.
"after add": the search latency right after adding one record (a notes app's add-then-search loop), p50 over 50
adds. --ef runs the HNSW search at several ef values (the store's default first). Writes benchmarks/results/store.md
and store.png.
Usage: python benchmarks/bench_store.py [--data ../shared/data] [--million] [--ef 128,64,48]
       smoke run: python benchmarks/bench_store.py --sizes 5000 --sets random --queries 20
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_common import DATA, RESULTS, pyplot, write_markdown

from embedlite.store.index import CONNECTIVITY, EXPANSION_ADD, EXPANSION_SEARCH

DIM = 256
REAL_TEXTS = 100_000
WINDOWS, STRIDE = (8, 16, 32), 2  # words per Amazon review chunk, and the step between chunks


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def real_texts(data: Path, n: int) -> list[str]:
    """n distinct real texts: SST-2 and STS-B train/dev sentences, then windows of 8, 16 and 32 words (stride 2)
    of the Amazon reviews, as a store of overlapping document chunks at several sizes holds them."""
    texts = [line.split("\t")[0] for line in (data / "sst2" / "train.tsv").read_text("utf-8").splitlines()[1:]]
    for split in ("train", "dev"):
        for line in (data / "stsb" / f"sts-{split}.csv").read_text("utf-8").splitlines():
            texts += line.split("\t")[5:7]
    distinct = dict.fromkeys(t.strip() for t in texts if t.strip())
    for path in sorted((data / "amazon-reviews").glob("*/*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            words = json.loads(line)["text"].split()
            for window in WINDOWS:
                for start in range(0, max(1, len(words) - window + 1), STRIDE):
                    distinct[" ".join(words[start : start + window])] = None
            if len(distinct) >= n:
                return list(distinct)[:n]
    raise SystemExit(f"the shared data holds {len(distinct):,} distinct texts, fewer than {n:,}")


def real_vectors(data: Path, n: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """all-MiniLM-L6-v2 embeddings (dim 256) of REAL_TEXTS real texts, grown to n by interpolation, and of
    held-out STS-B test sentences as the queries. Cached under benchmarks/.cache.

    Embedding a million texts takes hours on two cores, so points past the real ones are made between a real
    embedding and another one (v + a * (u - v), a up to 0.3, re-normalised): they stay on the manifold the
    model's embeddings live on, and a query's neighbours mix real and made points."""
    from embedlite import Embedder

    cache = Path(__file__).resolve().parent / ".cache" / f"store-real-{REAL_TEXTS}-{queries}.npz"
    if cache.exists():
        saved = np.load(cache)
        base, query_vectors = saved["vectors"], saved["queries"]
    else:
        held_out = [line.split("\t")[5] for line in (data / "stsb" / "sts-test.csv").read_text("utf-8").splitlines()]
        model = Embedder(device="cpu")
        base = model.embed(real_texts(data, REAL_TEXTS), dim=DIM, batch_size=64, show_progress=True)
        query_vectors = model.embed(list(dict.fromkeys(held_out))[:queries], dim=DIM)
        cache.parent.mkdir(exist_ok=True)
        np.savez(cache, vectors=base, queries=query_vectors)
    if n <= len(base):
        return base[:n], query_vectors
    rng = np.random.default_rng(2)
    made = n - len(base)
    v, u = base[rng.integers(len(base), size=made)], base[rng.integers(len(base), size=made)]
    return np.concatenate([base, unit(v + rng.uniform(0, 0.3, size=(made, 1)) * (u - v))]), query_vectors


def latencies(search, queries: np.ndarray) -> tuple[list, list]:
    search(queries[0])
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(search(q))
        times.append((time.perf_counter() - t) * 1000)
    return times, found


def row(name, n, engine, insert, build, times, found, truth, mb, after_add=None) -> dict:
    recall = np.mean([len(set(map(int, f)) & set(t.tolist())) / 10 for f, t in zip(found, truth)])
    r = {
        "set": name,
        "n": n,
        "engine": engine,
        "insert": insert,
        "build": build,
        "p50": np.percentile(times, 50),
        "p99": np.percentile(times, 99),
        "recall": recall,
        "mb": mb,
        "after_add": after_add,
    }
    print(r, flush=True)
    return r


def after_add(store, queries: np.ndarray, exact: bool, tag: str) -> float:
    """p50 of a search right after adding one record (the record is a copy of the query; times the search only)."""
    times = []
    for i, q in enumerate(queries[:50]):
        store.add([f"{tag}-{i}"], q[None])
        start = time.perf_counter()
        store.search(q, k=10, exact=exact)
        times.append((time.perf_counter() - start) * 1000)
    store.delete([f"{tag}-{i}" for i in range(len(times))])
    store.search(queries[0], k=10, exact=exact)
    return float(np.percentile(times, 50))


def embedlite_rows(name, vectors, queries, truth, quantization, efs: list[int]) -> list[dict]:
    from embedlite import VectorStore

    path = Path(tempfile.mkdtemp()) / "bench.db"
    store = VectorStore(path, dim=DIM, quantization=quantization, ann_threshold=0)
    ids = [str(i) for i in range(len(vectors))]
    start = time.perf_counter()
    for s in range(0, len(vectors), 1000):
        store.add(ids[s : s + 1000], vectors[s : s + 1000])
    insert = len(vectors) / (time.perf_counter() - start)
    exact = latencies(lambda q: [h.id for h in store.search(q, k=10, exact=True)], queries)
    exact_after_add = after_add(store, queries, True, "exact")
    start = time.perf_counter()
    store.search(queries[0], k=10)  # builds and saves the HNSW index
    build = time.perf_counter() - start
    ann = {}
    for ef in efs:
        store.ann_expansion = ef
        ann[ef] = (
            latencies(lambda q: [h.id for h in store.search(q, k=10)], queries),
            after_add(store, queries, False, f"ann{ef}"),
        )
    store.close()
    index_mb = path.with_name(path.name + ".hnsw").stat().st_size / 1e6
    db_mb = sum(p.stat().st_size for p in path.parent.iterdir()) / 1e6 - index_mb
    shutil.rmtree(path.parent)  # 1 GB per 1M set
    return [
        row(name, len(vectors), f"embedlite {quantization} exact", insert, None, *exact, truth, db_mb, exact_after_add)
    ] + [
        row(
            name,
            len(vectors),
            f"embedlite {quantization} HNSW" + (f" ef={ef}" if len(efs) > 1 else ""),
            insert,
            build,
            *times,
            truth,
            db_mb + index_mb,
            added,
        )
        for ef, (times, added) in ann.items()
    ]


def faiss_rows(name, vectors, queries, truth, hnsw: bool) -> list[dict]:
    try:
        import faiss
    except ImportError:
        return []
    faiss.omp_set_num_threads(1)  # one query at a time, as the store searches
    out = []
    indexes = [("faiss IndexFlatIP", faiss.IndexFlatIP(DIM))]
    if hnsw:
        indexes.append(("faiss IndexHNSWFlat", faiss.IndexHNSWFlat(DIM, CONNECTIVITY, faiss.METRIC_INNER_PRODUCT)))
    for label, index in indexes:
        if isinstance(index, faiss.IndexHNSWFlat):
            index.hnsw.efConstruction = EXPANSION_ADD
            index.hnsw.efSearch = EXPANSION_SEARCH
            faiss.omp_set_num_threads(2)
        start = time.perf_counter()
        index.add(vectors)
        build = time.perf_counter() - start
        faiss.omp_set_num_threads(1)
        out.append(
            row(
                name,
                len(vectors),
                f"{label} (memory)",
                len(vectors) / build,
                build if label.endswith("HNSWFlat") else None,
                *latencies(lambda q: index.search(q[None], 10)[1][0], queries),
                truth,
                faiss.serialize_index(index).nbytes / 1e6,
            )
        )
    return out


def sqlite_vec_rows(name, vectors, queries, truth) -> list[dict]:
    try:
        import pysqlite3 as sqlite_ext  # this Python's own sqlite3 may be built without extension loading
        import sqlite_vec
    except ImportError:
        return []
    path = Path(tempfile.mkdtemp()) / "vec.db"
    conn = sqlite_ext.connect(str(path))
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{DIM}] distance_metric=cosine)")
    start = time.perf_counter()
    for s in range(0, len(vectors), 1000):
        with conn:
            conn.executemany(
                "INSERT INTO v(rowid, embedding) VALUES (?, ?)",
                [(s + i, v.tobytes()) for i, v in enumerate(vectors[s : s + 1000])],
            )
    insert = len(vectors) / (time.perf_counter() - start)
    query = "SELECT rowid FROM v WHERE embedding MATCH ? AND k = 10 ORDER BY distance"
    times, found = latencies(lambda q: [r[0] for r in conn.execute(query, (q.tobytes(),))], queries)
    conn.close()
    mb = sum(p.stat().st_size for p in path.parent.iterdir()) / 1e6
    shutil.rmtree(path.parent)
    return [row(name, len(vectors), "sqlite-vec vec0 float32 exact", insert, None, times, found, truth, mb)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--million", action="store_true", help="also 1M vectors (int8 and float32 exact)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef", default=str(EXPANSION_SEARCH), help="HNSW ef values to run, comma separated")
    parser.add_argument("--sizes", default=None, help="set sizes, comma separated (default 100k, and 1M)")
    parser.add_argument("--sets", default="random,real", help="random, real (MiniLM embeddings)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    sizes = (
        tuple(int(x) for x in args.sizes.split(","))
        if args.sizes
        else ((100_000, 1_000_000) if args.million else (100_000,))
    )
    efs = [int(x) for x in args.ef.split(",")]
    rows = []
    for n in sizes:
        random = unit(rng.normal(size=(n, DIM)))
        near_copies = unit(random[rng.choice(n, args.queries)] + rng.normal(scale=0.05, size=(args.queries, DIM)))
        sets = {
            "random": lambda: (random, near_copies),
            "MiniLM embeddings": lambda: real_vectors(args.data, n, args.queries),
        }
        for name, make in sets.items():
            if ("random" if name == "random" else "real") not in args.sets.split(","):
                continue
            vectors, queries = make()
            truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
            quants = ("int8",) if n > 100_000 else ("float32", "float16", "int8", "binary")
            for quantization in quants:
                rows += embedlite_rows(name, vectors, queries, truth, quantization, efs)
            # faiss HNSW builds slowly (float32 graph): at 1M only on the embeddings
            rows += faiss_rows(name, vectors, queries, truth, hnsw=n <= 100_000 or name != "random")
            if n <= 100_000:
                rows += sqlite_vec_rows(name, vectors, queries, truth)

    cmd = " ".join(["python benchmarks/bench_store.py", *sys.argv[1:]])
    lines = [
        "# VectorStore: insert throughput, exact and HNSW search, file size; faiss and sqlite-vec beside it",
        "",
        f"Command: `{cmd}`",
        "",
        f"Machine: {platform.machine()}, {__import__('os').cpu_count()} cores. 256-dim unit vectors; inserts in "
        "batches of 1000 (one transaction each, synchronous=FULL for embedlite and sqlite-vec); "
        "k=10, one query at a time; recall@10 against exact float32 search. "
        f"HNSW: M={CONNECTIVITY}, efConstruction={EXPANSION_ADD}, ef={EXPANSION_SEARCH} for both usearch (embedlite, "
        "i8 graph) and faiss (float32 graph); embedlite re-scores 64 HNSW candidates from the stored vectors; "
        "its exact int8 search ranks as scoring the int8 vectors decoded to float32 against the float32 query "
        "(an integer pass with numkong's SIMD kernel, then the rows that can reach the top 10 scored exactly). "
        "'build s' is the index build on first search (2 threads). 'random': iid Gaussian directions, searched with "
        f"{args.queries} noisy copies of stored vectors, the worst case for graph indexes. 'MiniLM embeddings': "
        f"all-MiniLM-L6-v2 (dim 256) embeddings of {REAL_TEXTS:,} distinct real texts (SST-2 and STS-B train/dev "
        "sentences, 8/16/32-word windows of the Amazon reviews); the 1M set adds 900k points interpolated between "
        f"two of them (embedding 1M texts takes hours on 2 cores); queries: {args.queries} held-out STS-B test "
        "sentences. Figures from this one run.",
        "",
        "| set | n | engine | insert vec/s | build s | p50 ms | p99 ms | p50 after add ms | recall@10 | file MB |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        build = "" if r["build"] is None else f"{r['build']:.1f}"
        added = "" if r["after_add"] is None else f"{r['after_add']:.2f}"
        lines.append(
            f"| {r['set']} | {r['n']:,} | {r['engine']} | {r['insert']:,.0f} | {build} | {r['p50']:.2f} | "
            f"{r['p99']:.2f} | {added} | {r['recall']:.3f} | {r['mb']:.1f} |"
        )
    write_markdown("store.md", lines)
    plot(rows, RESULTS / "store.png")


def plot(rows, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, name in zip(axes, ("random", "MiniLM embeddings")):
        for r in (r for r in rows if r["set"] == name):
            marker = "o" if r["n"] <= 100_000 else "s"
            ax.scatter(r["p50"], r["recall"], marker=marker, s=40)
            ax.annotate(
                f"{r['engine'].replace(' (memory)', '')} {r['n'] // 1000}k",
                (r["p50"], r["recall"]),
                fontsize=6,
                xytext=(3, 2),
                textcoords="offset points",
            )
        ax.set_xscale("log")
        ax.set_xlabel("p50 search latency (ms, log), k=10, one query")
        ax.set_title(f"{name} (circles 100k, squares 1M)", fontsize=10)
    axes[0].set_ylabel("recall@10 vs exact float32")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
