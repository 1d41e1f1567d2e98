"""Per-artifact quality and speed report: report.json and report.md beside the model."""

from __future__ import annotations

import json
import time
from pathlib import Path

from embedlite.artifact import Manifest


def evaluate(artifact: Path, data: Path) -> dict:
    """STS-B test Spearman, nDCG@10 on stsb-retrieval, and CPU sentences/s (batch 32) of one artifact."""
    from embedlite.embedder import Embedder
    from embedlite.evaluation import load_retrieval, load_sts, retrieval_scores, sts_spearman

    embedder = Embedder(artifact, device="cpu")
    sts = load_sts(data / "stsb" / "sts-test.csv")
    texts = sts.sentences1 + sts.sentences2
    start = time.perf_counter()
    embedder.embed(texts, batch_size=32, show_progress=False)
    speed = len(texts) / (time.perf_counter() - start)
    retrieval = retrieval_scores(embedder, load_retrieval(data / "stsb-retrieval"))
    return {"sts_spearman": sts_spearman(embedder, sts), "ndcg@10": retrieval["ndcg@10"], "sentences_per_s": speed}


def write_report(directory: Path, manifest: Manifest, report: dict) -> None:
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"# {manifest.name}: {manifest.format} {manifest.precision}",
        "",
        f"- size: {report['bytes'] / 1e6:.1f} MB",
        f"- min cosine to the source model: {report['parity']['min_cosine']:.6f} "
        f"(mean {report['parity']['mean_cosine']:.6f}, {report['parity']['sentences']} sentences)",
        f"- measured on: {report['cpu']} (int8 kernels differ between CPUs)",
    ]
    if report.get("fused_ops"):
        lines.append("- fused ops: " + ", ".join(f"{n} {op}" for op, n in report["fused_ops"].items()))
    for key in ("sts_spearman", "ndcg@10", "sentences_per_s"):
        if key in report:
            lines.append(f"- {key}: {report[key]:.4f}")
    (directory / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
