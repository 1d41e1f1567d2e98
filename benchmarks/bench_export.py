"""Every exported artifact of all-MiniLM-L6-v2 beside sentence-transformers fp32, in one run.

Size, min/mean cosine to the source model over the STS-B test sentences, STS-B test Spearman, nDCG@10 on
stsb-retrieval and CPU sentences/s (batch 32). Writes benchmarks/results/export.md and export.png.
Usage: python benchmarks/bench_export.py [--data ../shared/data] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_common import DATA, RESULTS, pyplot, write_markdown

from embedlite.runtimes.cpu import int8_kernels

PRECISIONS = ("fp32", "fp16", "int8", "int8-accurate", "int4")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--formats", default="onnx")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from embedlite import Embedder, export
    from embedlite.converters.parity import compare
    from embedlite.embedder import with_prompt
    from embedlite.evaluation import load_retrieval, load_sts, retrieval_scores, sts_spearman
    from embedlite.models import source_dir

    torch.set_num_threads(args.threads)
    sts = load_sts(args.data / "stsb" / "sts-test.csv")
    retrieval = load_retrieval(args.data / "stsb-retrieval")
    texts = sts.sentences1 + sts.sentences2
    work = Path(tempfile.mkdtemp(prefix="embedlite-bench-"))
    st = SentenceTransformer(str(source_dir("all-MiniLM-L6-v2")), device="cpu")
    reference = st.encode(texts, batch_size=32)

    class StAdapter:  # lets the evaluation functions run sentence-transformers itself
        def embed(self, xs, batch_size=32):
            return st.encode(xs, batch_size=batch_size)

        def embed_query(self, xs, batch_size=32):
            return st.encode_query(xs, batch_size=batch_size)

        def embed_documents(self, xs, titles=None, batch_size=32):  # the model has no prompts: a title goes first
            return st.encode_document(
                [with_prompt("", x, t) for x, t in zip(xs, titles or [None] * len(xs))], batch_size=batch_size
            )

    rows = []
    start = time.perf_counter()
    StAdapter().embed(texts)
    st_speed = len(texts) / (time.perf_counter() - start)
    st_size = (source_dir("all-MiniLM-L6-v2") / "model.safetensors").stat().st_size
    rows.append(
        (
            "sentence-transformers fp32 (PyTorch)",
            st_size,
            1.0,
            1.0,
            sts_spearman(StAdapter(), sts),
            retrieval_scores(StAdapter(), retrieval)["ndcg@10"],
            st_speed,
        )
    )

    results = export(
        "all-MiniLM-L6-v2",
        work / "out",
        formats=tuple(args.formats.split(",")),
        precisions=PRECISIONS,
        parity_texts=texts[:64],
        progress=print,
    )
    for r in results:
        embedder = Embedder(r.path, device="cpu", threads=args.threads)
        embedder.embed(texts[:64])
        start = time.perf_counter()
        vectors = embedder.embed(texts, batch_size=32)
        speed = len(texts) / (time.perf_counter() - start)
        parity = compare(reference, vectors)
        rows.append(
            (
                f"embedlite {r.manifest.format} {r.manifest.precision}",
                r.report["bytes"],
                parity.min_cosine,
                parity.mean_cosine,
                sts_spearman(embedder, sts),
                retrieval_scores(embedder, retrieval)["ndcg@10"],
                speed,
            )
        )

    lines = [
        "# Exported all-MiniLM-L6-v2 artifacts vs sentence-transformers",
        "",
        f"Command: `python benchmarks/bench_export.py --threads {args.threads} --formats {args.formats}`",
        f"Machine: {int8_kernels()}, {args.threads} threads (int8 figures hold for CPUs with the same int8 "
        "instructions). Cosines are to sentence-transformers fp32 over "
        f"all {len(texts)} STS-B test sentences; STS-B test Spearman; nDCG@10 on stsb-retrieval; "
        "sentences/s at batch 32 over the same sentences, one pass each, in this one run.",
        "",
        "| model | MB | min cos | mean cos | STS-B | nDCG@10 | sent/s | speed vs ST |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, size, mn, mean, sp, ndcg, speed in rows:
        lines.append(
            f"| {name} | {size / 1e6:.1f} | {mn:.4f} | {mean:.5f} | {sp:.4f} | {ndcg:.4f} "
            f"| {speed:.0f} | {speed / st_speed:.2f}× |"
        )
    write_markdown("export.md", lines)
    plot(rows, RESULTS / "export.png")


def plot(rows, path: Path) -> None:
    """Size vs STS-B, one marker per artifact (legend), marker area proportional to sentences/s."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    top = max(r[6] for r in rows)
    markers = "o*sD^v<>P"
    for (name, size, _, _, sts, _, speed), marker in zip(rows, markers):
        label = f"{name.replace('embedlite ', '')} ({speed:.0f} sent/s)"
        ax.scatter(size / 1e6, sts, s=60 + 500 * speed / top, marker=marker, alpha=0.75, label=label)
    ax.set_xlabel("model file size (MB)")
    ax.set_ylabel("STS-B test Spearman")
    ax.set_title("all-MiniLM-L6-v2 artifacts: size vs STS-B (marker area: sentences/s)", fontsize=10)
    legend = ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    for handle in legend.legend_handles:
        handle.set_sizes([40])
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
