"""embedlite (every format and precision) vs sentence-transformers vs fastembed: all-MiniLM-L6-v2, same weights, same
STS-B test sentences, CPU, batch 32 and batch 1, in one run.

Each engine runs in its own process, in alternating rounds (the table gives the median of the rounds). fastembed pins
a huggingface-hub that conflicts with the project's, so it runs from its own virtual environment:

    python3 -m venv .venv-fastembed && .venv-fastembed/bin/pip install 'fastembed==0.9.*'
    python benchmarks/bench_peers.py --fastembed-python .venv-fastembed/bin/python

fastembed loads the same weights from a local directory (`specific_model_path`): an ONNX export of the BERT encoder
(last_hidden_state, as its all-MiniLM-L6-v2 entry expects, mean-pooled and normalised by fastembed) beside the source
model's tokenizer files. "share of sgemm peak": useful model FLOPs per second (2 x weights of the encoder's linear
layers, plus attention, per real token; padding not counted) over numpy float32 matmul's GFLOP/s measured here with
the same threads. Writes benchmarks/results/peers.md and peers.png (--out: another name, for another CPU).
Usage: python benchmarks/bench_peers.py [--rounds 2] [--threads 2] [--formats onnx,tflite] [--fastembed-python PY]
       [--artifact LABEL=DIR ...] [--out STEM]
       (--artifact: other artifacts beside them, e.g. the embedded default and its predecessor)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_common import DATA, RESULTS, pyplot, write_markdown

CACHE = Path(__file__).resolve().parent / ".cache" / "peers"
MODEL = "all-MiniLM-L6-v2"
PRECISIONS = ("fp32", "fp16", "int8", "int8-accurate", "int4")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json", "vocab.txt")


def sentences(data: Path, limit: int | None) -> list[str]:
    """The STS-B test sentences (both sides), read without embedlite (the fastembed worker has none)."""
    texts = []
    for line in (data / "stsb" / "sts-test.csv").read_text("utf-8").splitlines():
        texts += line.split("\t")[5:7]
    return texts[:limit]


# -- workers: one engine in this process, timings as JSON on stdout -------------------------------------------
def worker(engine: str, target: str, data: Path, threads: int, batch1: int, limit: int | None) -> dict:
    texts = sentences(data, limit)
    if engine == "embedlite":
        from embedlite import Embedder

        model = Embedder(target, device="cpu", threads=threads)
        encode = lambda xs, bs: model.embed(xs, batch_size=bs, show_progress=False)  # noqa: E731
        one = lambda x: model.embed(x)  # noqa: E731
    elif engine == "sentence-transformers":
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        st = SentenceTransformer(target, device="cpu")
        encode = lambda xs, bs: st.encode(xs, batch_size=bs, show_progress_bar=False)  # noqa: E731
        one = lambda x: st.encode(x, show_progress_bar=False)  # noqa: E731
    elif engine == "fastembed":
        from fastembed import TextEmbedding

        fe = TextEmbedding(f"sentence-transformers/{MODEL}", specific_model_path=target, threads=threads)
        encode = lambda xs, bs: list(fe.embed(xs, batch_size=bs))  # noqa: E731
        one = lambda x: list(fe.embed([x], batch_size=1))  # noqa: E731
    else:  # sgemm: this machine's float32 matmul peak
        return {"gflops": sgemm_gflops()}
    encode(texts[:64], 32)  # warm-up
    for text in texts[:20]:
        one(text)
    times = []
    for text in texts[:batch1]:
        start = time.perf_counter()
        one(text)
        times.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    encode(texts, 32)
    result = {"batch32": len(texts) / (time.perf_counter() - start), "p50_ms": statistics.median(times)}
    if engine == "embedlite":  # one text, one vector? alone vs in a batch of 32 of mixed lengths, and reversed
        import numpy as np

        group = texts[:32]
        batched = np.asarray(encode(group, 32))
        alone = np.vstack([model.embed([t]) for t in group])
        reverse = np.asarray(encode(group[::-1], 32))[::-1]
        result["max_delta"] = float(max(np.abs(alone - batched).max(), np.abs(reverse - batched).max()))
    return result


def sgemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    import numpy as np

    a, b = (np.random.default_rng(0).standard_normal((n, n), dtype=np.float32) for _ in range(2))
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- the run ---------------------------------------------------------------------------------------------------
def prepare(formats: tuple[str, ...]) -> dict[str, Path]:
    """Every embedlite artifact of the model (exported once per format into benchmarks/.cache/peers), by label."""
    from embedlite import export

    artifacts = {}
    for fmt in formats:
        out = CACHE / f"artifacts-{fmt}"
        if not out.is_dir():
            export(MODEL, out, formats=(fmt,), precisions=PRECISIONS, progress=print)
        artifacts.update({f"embedlite {p.name.replace('-', ' ', 1)}": p for p in sorted(out.iterdir())})
    return artifacts


def fastembed_dir(source: Path) -> Path:
    """The source model's encoder as fastembed's all-MiniLM-L6-v2 entry expects it: model.onnx giving
    last_hidden_state, beside the tokenizer files."""
    target = CACHE / "fastembed-model"
    if (target / "model.onnx").is_file():
        return target
    import torch
    from transformers import AutoModel

    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, staging / name)
    bert = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()
    ids = torch.tensor([[101, 2023, 2003, 102], [101, 2178, 102, 0]])
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    torch.onnx.export(
        bert,
        (ids, (ids != 0).long(), torch.zeros_like(ids)),
        str(staging / "model.onnx"),
        dynamo=True,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_shapes=({0: batch, 1: seq},) * 3,
        external_data=False,
    )
    staging.rename(target)
    return target


def flops_per_token(source: Path, tokens: float) -> float:
    """2 x the encoder's linear weights, plus attention's two (tokens x tokens) products, per real token."""
    config = json.loads((source / "config.json").read_text())
    h, inter, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return 2 * layers * (4 * h * h + 2 * h * inter) + layers * 4 * h * tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch1", type=int, default=200, help="sentences timed one at a time (p50)")
    parser.add_argument("--sentences", type=int, default=None, help="first N sentences only (smoke runs)")
    parser.add_argument("--formats", default="onnx,tflite")
    parser.add_argument("--fastembed-python", default=None, help="a python with fastembed installed")
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "TARGET"))
    parser.add_argument("--out", default="peers", help="results/OUT.md and OUT.png (another CPU beside peers.md)")
    parser.add_argument(
        "--artifact",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="another embedlite artifact to time beside them (its own weights), e.g. the default",
    )
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker, args.data, args.threads, args.batch1, args.sentences)))
        return

    from embedlite.models import source_dir
    from embedlite.runtimes.cpu import int8_kernels  # here: the fastembed worker's python has no embedlite
    from embedlite.runtimes.tokenizer import TextTokenizer

    source = source_dir(MODEL)
    engines = {"sentence-transformers fp32 (PyTorch)": ("sentence-transformers", str(source), sys.executable)}
    if args.fastembed_python:
        engines["fastembed fp32 (same weights)"] = ("fastembed", str(fastembed_dir(source)), args.fastembed_python)
    engines.update(
        {
            label: ("embedlite", str(path), sys.executable)
            for label, path in prepare(tuple(args.formats.split(","))).items()
        }
    )
    for item in args.artifact:
        label, _, path = item.partition("=")
        engines[label] = ("embedlite", str(Path(path).resolve()), sys.executable)
    engines["sgemm"] = ("sgemm", "-", sys.executable)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "OPENBLAS_NUM_THREADS": str(args.threads)}
    runs: dict[str, list[dict]] = {label: [] for label in engines}
    for r in range(args.rounds):
        for label, (engine, target, python) in engines.items():
            cmd = [
                python,
                __file__,
                "--worker",
                engine,
                target,
                "--data",
                str(args.data),
                "--threads",
                str(args.threads),
                "--batch1",
                str(args.batch1),
            ]
            if args.sentences:
                cmd += ["--sentences", str(args.sentences)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode:
                raise SystemExit(f"{label} failed:\n{out.stderr[-3000:]}")
            runs[label].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1} {label}: {runs[label][-1]}", file=sys.stderr, flush=True)

    texts = sentences(args.data, args.sentences)
    ids, _ = TextTokenizer(source / "tokenizer.json", 256).encode(texts)
    tokens = sum(map(len, ids)) / len(ids)
    peak = statistics.median(run["gflops"] for run in runs.pop("sgemm"))
    flops = flops_per_token(source, tokens)
    med = {
        label: {k: statistics.median(run[k] for run in rs) for k in ("batch32", "p50_ms")} for label, rs in runs.items()
    }
    delta = {label: max(run["max_delta"] for run in rs) for label, rs in runs.items() if "max_delta" in rs[0]}
    sizes = {label: _model_bytes(Path(engines[label][1])) for label in runs}
    st = med["sentence-transformers fp32 (PyTorch)"]["batch32"]
    fe = med.get("fastembed fp32 (same weights)", {}).get("batch32")
    lines = [
        "# embedlite vs sentence-transformers vs fastembed: all-MiniLM-L6-v2 on CPU",
        "",
        f"Command: `python benchmarks/bench_peers.py --rounds {args.rounds} --threads {args.threads} "
        f"--formats {args.formats}"
        + (" --fastembed-python PY" if fe else "")
        + "".join(f" --artifact '{a}'" for a in args.artifact)
        + (f" --out {args.out}" if args.out != "peers" else "")
        + "`",
        "",
        f"Machine: {int8_kernels()}, {os.cpu_count()} cores, {args.threads} threads per engine, Python "
        f"{platform.python_version()}. Sentences: the {len(texts)} STS-B test sentences ({tokens:.1f} tokens "
        f"each on average) at batch 32, and the first {args.batch1} one at a time (batch-1 p50). Each engine in its "
        f"own process, {args.rounds} alternating rounds, medians. sgemm peak: numpy float32 matmul, {peak:.0f} "
        f"GFLOP/s here; the model does {flops / 1e6:.1f} MFLOP per token. Invariance: the largest |difference| "
        "in any component between the first 32 sentences embedded alone, as one batch, and as the reversed batch "
        "(0 or ~1e-7: one text, one vector).",
        "",
        "| engine | MB | sent/s batch 32 | batch-1 p50 ms | share of sgemm peak | vs sentence-transformers "
        "| vs fastembed | max \\|Δ\\| alone vs batched |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, m in med.items():
        share = m["batch32"] * tokens * flops / 1e9 / peak
        vs_fe = f"{m['batch32'] / fe:.2f}×" if fe else ""
        invariance = f"{delta[label]:.1e}" if label in delta else ""
        lines.append(
            f"| {label} | {sizes[label] / 1e6:.1f} | {m['batch32']:.0f} | {m['p50_ms']:.2f} | {share:.0%} "
            f"| {m['batch32'] / st:.2f}× | {vs_fe} | {invariance} |"
        )
    write_markdown(f"{args.out}.md", lines)
    plot(med, RESULTS / f"{args.out}.png")


def _model_bytes(target: Path) -> int:
    files = [target / n for n in ("model.onnx", "model.tflite", "model.safetensors") if (target / n).is_file()]
    return sum(f.stat().st_size for f in files)


def plot(med: dict, path: Path) -> None:
    plt = pyplot()
    labels = list(med)
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.4 * len(labels) + 1.5), sharey=True)
    axes[0].barh(labels, [med[x]["batch32"] for x in labels], color="tab:blue")
    axes[0].set_xlabel("sentences/s at batch 32 (higher is better)")
    axes[1].barh(labels, [med[x]["p50_ms"] for x in labels], color="tab:orange")
    axes[1].set_xlabel("batch-1 p50 latency, ms (lower is better)")
    axes[0].invert_yaxis()
    fig.suptitle("all-MiniLM-L6-v2 on CPU: embedlite vs peers", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
