"""A real CPU distillation: teacher all-MiniLM-L6-v2 (6 layers), 3-layer students, with ablations.

Runs: full recipe (seed 0 and seed 1), without the spread-out regulariser, without Matryoshka dims, and the
merge of the two full runs. Each model is exported to int8 ONNX and measured in this one run: STS-B test
Spearman at each Matryoshka dim, nDCG@10 on stsb-retrieval (float, and with binary sign codes), parameters
and sentences/s. Writes benchmarks/results/distill.md.
Usage: python benchmarks/bench_distill.py [--max-texts 12000] [--epochs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_common import DATA, write_markdown

DIMS = (384, 256, 128, 64)


def binary_ndcg(embedder, data) -> float:
    """nDCG@10 when documents and queries are reduced to sign bits (Hamming ranking)."""
    from embedlite.evaluation import rank_metrics

    doc_ids, query_ids = list(data.corpus), list(data.queries)
    docs = embedder.embed([data.corpus[d] for d in doc_ids]) > 0
    queries = embedder.embed([data.queries[q] for q in query_ids]) > 0
    agree = queries.astype(np.float32) @ docs.T.astype(np.float32) + (~queries).astype(np.float32) @ (~docs).T
    return rank_metrics(agree, query_ids, doc_ids, data.qrels)["ndcg@10"]


def evaluate(name: str, st_dir: Path, work: Path, sts, retrieval, texts) -> dict:
    from sentence_transformers import SentenceTransformer

    from embedlite import Embedder, export
    from embedlite.evaluation import retrieval_scores, sts_spearman

    params = sum(p.numel() for p in SentenceTransformer(str(st_dir), device="cpu").parameters())
    (artifact,) = export(st_dir, work / f"{name}-int8", precisions=("int8",), dims=DIMS)
    row = {"model": name, "params": params}
    for dim in DIMS:
        row[f"sts@{dim}"] = sts_spearman(Embedder(artifact.path, device="cpu", dim=dim), sts)
    e = Embedder(artifact.path, device="cpu", threads=2)
    row["ndcg"] = retrieval_scores(e, retrieval)["ndcg@10"]
    row["ndcg@128"] = retrieval_scores(Embedder(artifact.path, device="cpu", dim=128), retrieval)["ndcg@10"]
    row["ndcg_binary"] = binary_ndcg(e, retrieval)
    e.embed(texts[:64])
    start = time.perf_counter()
    e.embed(texts, batch_size=32)
    row["speed"] = len(texts) / (time.perf_counter() - start)
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--max-texts", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    from embedlite.evaluation import load_retrieval, load_sts
    from embedlite.models import source_dir
    from embedlite.training import DistillConfig, distill, merge

    work = Path(tempfile.mkdtemp(prefix="embedlite-distill-"))
    teacher = source_dir("all-MiniLM-L6-v2")
    train = (args.data / "stsb" / "sts-train.csv", args.data / "stsb" / "sts-dev.csv", args.data / "sst2" / "train.tsv")
    base = dict(
        train_texts=train,
        teacher=teacher,
        student_layers=(0, 2, 4),
        max_texts=args.max_texts,
        epochs=args.epochs,
        batch_size=64,
        learning_rate=2e-4,
        max_seq_length=64,
        matryoshka_dims=DIMS,
        cache_dir=work / "cache",
    )
    runs = {
        "student (full recipe)": dict(seed=0),
        "student seed 1": dict(seed=1),
        "student without spread-out": dict(seed=0, spread_out_weight=0.0),
        "student without MRL": dict(seed=0, matryoshka_dims=()),
    }
    dirs = {"teacher all-MiniLM-L6-v2": teacher}
    times = {}
    for name, change in runs.items():
        start = time.perf_counter()
        dirs[name] = distill(DistillConfig(output=work / name.replace(" ", "_"), **{**base, **change}))
        times[name] = time.perf_counter() - start
    dirs["merged (full + seed 1)"] = merge([dirs["student (full recipe)"], dirs["student seed 1"]], work / "merged")

    sts = load_sts(args.data / "stsb" / "sts-test.csv")
    retrieval = load_retrieval(args.data / "stsb-retrieval")
    texts = sts.sentences1 + sts.sentences2
    rows = [evaluate(f"m{i}", d, work, sts, retrieval, texts) | {"model": n} for i, (n, d) in enumerate(dirs.items())]
    t = rows[0]
    lines = [
        "# Distillation on CPU: all-MiniLM-L6-v2 teacher → 3-layer students (layers 0, 2, 4)",
        "",
        f"Command: `python benchmarks/bench_distill.py --max-texts {args.max_texts} --epochs {args.epochs}`",
        "",
        f"Training texts: the first {args.max_texts} distinct texts of STS-B train + dev and SST-2 train; "
        f"batch 64, lr 2e-4, {args.epochs} epoch(s), max 64 tokens; loss = embedding matching + NCE (SamToNe) "
        "+ geometry matching and spread-out at each Matryoshka dim (384/256/128/64). Training time per run: "
        + ", ".join(f"{n}: {s / 60:.1f} min" for n, s in times.items())
        + ". "
        "Every model is measured as an int8 ONNX artifact, in this one run: STS-B test Spearman at each dim, "
        "nDCG@10 on stsb-retrieval (full dim, dim 128, and binary sign codes), sentences/s at batch 32 (2 threads).",
        "",
        "| model | params M | STS@384 | STS@256 | STS@128 | STS@64 | nDCG@10 | nDCG@10 d128 | nDCG@10 binary "
        "| sent/s | vs teacher |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params'] / 1e6:.1f} | "
            + " | ".join(f"{r[f'sts@{d}']:.4f}" for d in DIMS)
            + f" | {r['ndcg']:.4f} | {r['ndcg@128']:.4f} | {r['ndcg_binary']:.4f} | {r['speed']:.0f} "
            f"| {r['speed'] / t['speed']:.2f}× |"
        )
    s = rows[1]
    lines += [
        "",
        f"Full-recipe student keeps {s['sts@384'] / t['sts@384']:.1%} of the teacher's STS-B Spearman and "
        f"{s['ndcg'] / t['ndcg']:.1%} of its nDCG@10, at {s['speed'] / t['speed']:.2f}× its int8 speed.",
    ]
    write_markdown("distill.md", lines)


if __name__ == "__main__":
    main()
