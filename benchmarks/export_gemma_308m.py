"""Build the 308M EmbeddingGemma replica (random weights, google/embeddinggemma-300m's config and layout, the real
Gemma 3 tokenizer), export it, and report sizes, parity with sentence-transformers' encode_query / encode_document
(short texts and a 2048-token document) and CPU latency at 256 and 2048 tokens. Writes
benchmarks/results/gemma_308m.md (with --size tiny, a smoke run: prints the table only).
Usage: python benchmarks/export_gemma_308m.py [--formats onnx,tflite] [--precisions fp32,int4] [--threads 2]
       python benchmarks/export_gemma_308m.py --reuse DIR  (re-measure latency of artifacts a run left in DIR)
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_common import DATA, gemma_replica, write_markdown

LONG = 2048


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--formats", default="onnx,tflite")
    parser.add_argument("--precisions", default="fp32,int4")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", default="308m", choices=("308m", "tiny"), help="tiny: a quick check of the script")
    parser.add_argument("--reuse", type=Path, help="an earlier run's export folder: skip build, export and parity")
    args = parser.parse_args()

    from embedlite import Embedder, export

    replica = gemma_replica()
    SIZES, build_embeddinggemma, config_json = replica.SIZES, replica.build_embeddinggemma, replica.config_json

    if args.reuse:
        artifacts = [(p.parent, json.loads(p.read_text())) for p in sorted(args.reuse.glob("*/report.json"))]
        run = json.loads((args.reuse / "run.json").read_text())
        command = f"{run['command']}, then `--reuse {args.reuse} --threads {args.threads}`"
        how = f"{run['how']}; latency re-measured with `--reuse` (sizes and parity from each report.json)"
    else:
        from sentence_transformers import SentenceTransformer

        work = Path(tempfile.mkdtemp(prefix=f"gemma{args.size}-"))
        start = time.perf_counter()
        src = build_embeddinggemma(work / "st", args.size, DATA / "gemma3-tokenizer" / "tokenizer.json")
        built = time.perf_counter() - start
        start = time.perf_counter()
        results = export(
            src,
            work / "out",
            formats=tuple(args.formats.split(",")),
            precisions=tuple(args.precisions.split(",")),
            progress=print,
        )
        exported = time.perf_counter() - start
        st = SentenceTransformer(str(src), device="cpu")
        artifacts = []
        for r in results:  # parity with sentence-transformers' own prompts and pipeline, kept in the report
            r.report["prompted"] = prompted_parity(st, Embedder(r.path, device="cpu", threads=args.threads))
            (r.path / "report.json").write_text(json.dumps(r.report, indent=2))
            artifacts.append((r.path, r.report))
        params = sum(p.numel() for p in st.parameters())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        how = (
            f"Parameters: {params / 1e6:.1f} M. Build {built:.0f} s, export of all "
            f"artifacts {exported:.0f} s, peak RSS {peak / 1024:.1f} GB"
        )
        command = (
            f"`python benchmarks/export_gemma_308m.py --formats {args.formats} --precisions {args.precisions} "
            f"--threads {args.threads}`"
        )
        (work / "out" / "run.json").write_text(json.dumps({"command": command, "how": how}))
    rows = []
    for path, report in artifacts:
        e = Embedder(path, device="cpu", threads=args.threads)
        latency = {n: latency_ms(e, " ".join(["word"] * (n - 2))) for n in (256, LONG)}  # <bos> n-2 words <eos>
        prompted = report["prompted"]
        rows.append(
            f"| {path.name} | {report['bytes'] / 1e6:.1f} | {prompted['short']:.5f} | {prompted['long']:.5f} "
            f"| {latency[256]:.0f} | {latency[LONG]:.0f} |"
        )
    c = config_json(args.size)
    local = c["layer_types"].count("sliding_attention")
    lines = [
        f"# EmbeddingGemma {args.size} replica (random weights, real tokenizer): export, size, parity, latency",
        "",
        f"Command: {command}",
        "",
        f"Machine: {platform.machine()}, {args.threads} threads. The replica is google/embeddinggemma-300m's "
        f"config.json, modules.json and prompts with random weights (fixtures/embeddinggemma.py): vocab "
        f"{c['vocab_size']}, hidden {c['hidden_size']}, {c['num_hidden_layers']} layers ({local} local with a "
        f"{c['sliding_window']} sliding window, {c['num_hidden_layers'] - local} global), "
        f"{c['num_attention_heads']} heads, {c['num_key_value_heads']} KV head, head_dim {c['head_dim']}, MLP "
        f"{c['intermediate_size']}, Dense {c['hidden_size']}→{SIZES[args.size]['dense_dim']}→{c['hidden_size']}, "
        f"{c['max_position_embeddings']} positions; the Gemma 3 tokenizer with `<bos> text <eos>`. {how}. "
        "Parity: the lowest cosine to sentence-transformers (torch fp32) — short: its encode_query and "
        "encode_document of the 40 built-in sentences; 2048: encode_document of one 2048-token text (the sliding "
        "window at work). Latency: one input of 256 or 2048 tokens, median of 5.",
        "",
        "| artifact | MB | min cos short | min cos 2048 | 256-token ms | 2048-token ms |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
    ]
    if args.size == "308m":
        write_markdown("gemma_308m.md", lines)
    else:
        print("\n".join(lines))


def prompted_parity(st, embedder) -> dict[str, float]:
    import warnings

    from embedlite.converters.parity import compare, default_sentences

    texts = default_sentences()
    short = min(
        compare(st.encode_query(texts, show_progress_bar=False), embedder.embed_query(texts)).min_cosine,
        compare(st.encode_document(texts, show_progress_bar=False), embedder.embed_documents(texts)).min_cosine,
    )
    long = [text_of_tokens(st.tokenizer, LONG + 64)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cut to 2048 tokens on both sides, on purpose
        reference = st.encode_document(long, show_progress_bar=False)
        return {"short": short, "long": compare(reference, embedder.embed_documents(long)).min_cosine}


def text_of_tokens(tokenizer, tokens: int) -> str:
    """Real sentences repeated until the text has at least `tokens` tokens."""
    from embedlite.converters.parity import default_sentences

    text = ""
    for sentence in default_sentences() * 1000:
        text += sentence + " "
        if len(text) > 3 * tokens and len(tokenizer(text)["input_ids"]) >= tokens:
            return text
    raise ValueError(f"could not make a text of {tokens} tokens")


def latency_ms(embedder, text: str) -> float:
    embedder.embed([text])
    times = []
    for _ in range(5):
        t = time.perf_counter()
        embedder.embed([text])
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1000


if __name__ == "__main__":
    main()
