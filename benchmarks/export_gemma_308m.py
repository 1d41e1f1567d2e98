"""Build the 308M EmbeddingGemma config with random weights, export it, and report sizes, parity with torch and
CPU latency for one 256-token input. Writes benchmarks/results/gemma_308m.md.
Usage: python benchmarks/export_gemma_308m.py [--formats onnx] [--precisions fp32,int4] [--threads 2]
       python benchmarks/export_gemma_308m.py --reuse DIR  (re-measure latency of artifacts a run left in DIR)
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from bench_common import write_markdown


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--formats", default="onnx")
    parser.add_argument("--precisions", default="fp32,int8,int4")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reuse", type=Path, help="an earlier run's export folder: skip build and export")
    args = parser.parse_args()

    from embedlite import Embedder, export
    from fixtures.embeddinggemma import build_embeddinggemma
    from embedlite.models import default_source_zip

    if args.reuse:
        artifacts = [(p.parent, json.loads(p.read_text())) for p in sorted(args.reuse.glob("*/report.json"))]
        run = json.loads((args.reuse / "run.json").read_text())
        command = f"{run['command']}, then `--reuse {args.reuse} --threads {args.threads}`"
        how = f"{run['how']}; latency re-measured with `--reuse` (sizes and parity from each report.json)"
    else:
        work = Path(tempfile.mkdtemp(prefix="gemma308m-"))
        zipfile.ZipFile(default_source_zip()).extractall(work / "tok")
        start = time.perf_counter()
        src = build_embeddinggemma(work / "st", "308m", work / "tok")
        built = time.perf_counter() - start
        start = time.perf_counter()
        results = export(src, work / "out", formats=tuple(args.formats.split(",")),
                         precisions=tuple(args.precisions.split(",")), progress=print)
        exported = time.perf_counter() - start
        artifacts = [(r.path, r.report) for r in results]
        params = sum(p.numel() for p in __import__("sentence_transformers").SentenceTransformer(
            str(src), device="cpu").parameters())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        how = (f"Parameters: {params / 1e6:.1f} M. Build {built:.0f} s, export of all "
               f"artifacts {exported:.0f} s, peak RSS {peak / 1024:.1f} GB")
        command = (f"`python benchmarks/export_gemma_308m.py --formats {args.formats} --precisions {args.precisions} "
                   f"--threads {args.threads}`")
        (work / "out" / "run.json").write_text(json.dumps({"command": command, "how": how}))
    text = " ".join(["word"] * 254)  # [CLS] + 254 + [SEP] = 256 tokens
    rows = []
    for path, report in artifacts:
        e = Embedder(path, device="cpu", threads=args.threads)
        e.embed([text])
        times = []
        for _ in range(5):
            t = time.perf_counter()
            e.embed([text])
            times.append(time.perf_counter() - t)
        rows.append((path.name, report["bytes"] / 1e6, report["parity"]["min_cosine"],
                     report["parity"]["mean_cosine"], float(np.median(times)) * 1000))
    lines = [
        "# EmbeddingGemma 308M config (random weights): export, size, latency", "",
        f"Command: {command}", "",
        f"Machine: {platform.machine()}, {args.threads} threads. Config: vocab 262144, hidden 768, 24 layers, 3 heads, "
        f"1 KV head, head_dim 256, MLP 1152, Dense 768→3072→768. {how}. "
        "Parity: cosine to sentence-transformers (torch fp32) over the 40 built-in sentences. "
        "Latency: one 256-token input, median of 5.", "",
        "| artifact | MB | min cos | mean cos | 256-token latency ms |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {n} | {mb:.1f} | {mn:.5f} | {mean:.5f} | {ms:.0f} |" for n, mb, mn, mean, ms in rows]
    write_markdown("gemma_308m.md", lines)


if __name__ == "__main__":
    main()
