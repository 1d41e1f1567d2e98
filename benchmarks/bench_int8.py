"""int8 (per-token activations) beside int8-accurate, int4 and fp32, on one model's fp32 ONNX artifact: STS-B test
with the model's STS prompt (all distinct sentences), cosine to fp32, a text alone vs in a batch, file size, and
sentences/s on inputs of 128 tokens (batch 16), the precisions timed in alternating rounds in one process (medians);
--sentence-transformers times the source model in torch on the same token ids in the same rounds; --tflite DIR does
the same for an embedlite TFLite artifact of the model (LiteRT, batch 8: its largest signature).

    python benchmarks/bench_int8.py [--model embeddinggemma-300m] [--threads 2] [--rounds 3]
        [--sentence-transformers] [--tflite DIR] [--out NAME]

The model is resolved by name (converted to fp32 ONNX on first use: needs embedlite[export]); int8 calibrates on the
built-in parity sentences, as `embedlite export` does. Writes benchmarks/results/<out>.md (int8_<model> by default).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_common import DATA, write_markdown

PRECISIONS = ("fp32", "int8", "int8-accurate", "int4")
ST = "sentence-transformers (torch fp32)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="embeddinggemma-300m")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (median)")
    parser.add_argument("--sentence-transformers", action="store_true", help="time the source model in torch too")
    parser.add_argument("--out", default=None, help="results file name without .md (default int8_<model>)")
    parser.add_argument("--tflite", type=Path, default=None, help="a TFLite artifact of the model to time beside")
    args = parser.parse_args()

    import onnxruntime as ort

    from embedlite.artifact import read_manifest
    from embedlite.converters.export import calibration_feeds
    from embedlite.converters.onnx_quantize import quantize
    from embedlite.converters.parity import default_sentences
    from embedlite.evaluation import load_sts, spearman
    from embedlite.models import resolve
    from embedlite.runtimes.cpu import int8_kernels
    from embedlite.runtimes.tokenizer import TextTokenizer, pad_batch

    artifact = Path(resolve(args.model))
    manifest = read_manifest(artifact)
    prompt = (manifest.prompts or {}).get("STS", "")
    tok = TextTokenizer(artifact / "tokenizer.json", manifest.max_seq_length)
    sts = load_sts(DATA / "stsb" / "sts-test.csv")
    texts = list(dict.fromkeys(sts.sentences1 + sts.sentences2))
    ids, _ = tok.encode([prompt + t for t in texts])
    long_ids = [row[:1] + (row[1:-1] * 20)[:126] + row[-1:] for row in ids[:64]]  # 128-token inputs

    def session(path: Path):
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
        options.log_severity_level = 3
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(s, rows: list[list[int]], batch: int = 16) -> np.ndarray:
        order = np.argsort([len(r) for r in rows])
        out: list[np.ndarray | None] = [None] * len(rows)
        for i in range(0, len(rows), batch):
            idx = order[i : i + batch]
            input_ids, mask = pad_batch([rows[j] for j in idx], tok.pad_id)
            for j, vector in zip(idx, s.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]):
                out[j] = vector
        return np.stack(out)

    def sts_score(vectors: np.ndarray) -> float:
        index = {t: i for i, t in enumerate(texts)}
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        cos = [unit[index[a]] @ unit[index[b]] for a, b in zip(sts.sentences1, sts.sentences2)]
        return spearman(np.array(cos), np.array(sts.scores))

    work = Path(tempfile.mkdtemp(prefix="embedlite-int8-"))
    calibration = calibration_feeds(artifact / "tokenizer.json", default_sentences(), manifest.max_seq_length)
    paths = {"fp32": artifact / "model.onnx"}
    for precision in PRECISIONS[1:]:
        paths[precision] = work / f"{precision}.onnx"
        quantize(artifact / "model.onnx", paths[precision], precision, manifest.architecture, calibration)
    rows, reference, sessions = {}, None, {}
    for precision, path in paths.items():
        s = sessions[precision] = session(path)
        vectors = run(s, ids)
        reference = vectors if reference is None else reference
        cos = (vectors * reference).sum(1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(reference, axis=1)
        alone = np.vstack([run(s, [r], 1) for r in ids[:16]])
        rows[precision] = [
            path.stat().st_size / 1e6,
            sts_score(vectors),
            cos.min(),
            cos.mean(),
            float(np.abs(alone - run(s, ids[:16])).max()),
        ]
        print(precision, rows[precision], flush=True)
        run(s, long_ids[:16])  # warm-up
    timers = {p: (lambda s=s: run(s, long_ids)) for p, s in sessions.items()}
    if args.tflite is not None:
        name, rows[name], timers[name] = litert_engine(args.tflite, args.threads, ids, long_ids, tok.pad_id, reference)
        rows[name][1] = sts_score(rows[name][1])
        print(name, rows[name], flush=True)
    if args.sentence_transformers:
        timers[ST] = torch_runner(args.model, long_ids, tok.pad_id, args.threads)
    speeds: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(args.rounds):
        for name, timed in timers.items():
            start = time.perf_counter()
            timed()
            speeds[name].append(len(long_ids) / (time.perf_counter() - start))
    for path in paths.values():
        if path.parent == work:
            path.unlink()
    work.rmdir()
    speed = {name: float(np.median(v)) for name, v in speeds.items()}
    base = f"int8_{args.model}"
    flags = f" --rounds {args.rounds}" + (" --sentence-transformers" if args.sentence_transformers else "")
    flags += f" --tflite {args.tflite}" if args.tflite else ""
    flags += f" --out {args.out}" if args.out else ""
    lines = [
        f"# {args.model}: int8 (activations per token) beside int8-accurate, int4 and fp32",
        "",
        f"Command: `python benchmarks/bench_int8.py --model {args.model} --threads {args.threads}{flags}`",
        "",
        f"Machine: {int8_kernels()}, Python {platform.python_version()}, {args.threads} threads. STS-B test: the "
        f"{len(texts)} distinct sentences with the prompt {prompt!r}; cosine to fp32 over them; invariance: the "
        "largest |difference| between the first 16 embedded alone and as one batch; speed: 64 inputs of 128 tokens "
        f"at batch 16, every engine in turn in each of {args.rounds} rounds, the median (ratios to int8-accurate and "
        "to sentence-transformers where it ran, in the same rounds).",
        "",
        "| precision | MB | STS-B test | min / mean cosine to fp32 | max \\|Δ\\| alone vs batched | 128-token sent/s "
        "| x int8-accurate | x sentence-transformers |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    write_markdown(f"{args.out or base}.md", lines + table(speed, rows))


def table(speed: dict[str, float], rows: dict[str, list]) -> list[str]:
    """One line per engine: size, quality and invariance where measured, speed and its ratios."""
    lines, st = [], speed.get(ST)
    for name, value in speed.items():
        mb, score, lo, mean, delta = rows.get(name, [None] * 5)
        cells = "| - | - | - | - |"
        if mb is not None:
            cells = f"| {mb:.0f} | {score:.4f} | {lo:.5f} / {mean:.5f} | {delta:.1e} |"
        versus = f"{value / st:.2f}x" if st else "-"
        lines.append(f"| {name} {cells} {value:.1f} | {value / speed['int8-accurate']:.2f}x | {versus} |")
    return lines


def litert_engine(path: Path, threads: int, ids: list, long_ids: list, pad_id: int, reference: np.ndarray):
    """(label, [MB, its vectors of `ids` (scored by the caller), min and mean cosine to `reference`, invariance],
    timer) for an embedlite TFLite artifact run by LiteRT."""
    from embedlite.artifact import read_manifest
    from embedlite.runtimes.litert import LiteRTModel

    manifest = read_manifest(path)
    model = LiteRTModel(path / manifest.model_file, threads=threads)
    vectors = _litert_run(model, ids, pad_id)
    cos = (vectors * reference).sum(1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(reference, axis=1)
    alone = np.vstack([_litert_run(model, [r], pad_id) for r in ids[:16]])
    delta = float(np.abs(alone - _litert_run(model, ids[:16], pad_id)).max())
    size = (path / manifest.model_file).stat().st_size / 1e6
    row = [size, vectors, cos.min(), cos.mean(), delta]
    return f"LiteRT {manifest.precision} ({path.name})", row, lambda: _litert_run(model, long_ids, pad_id)


def _litert_run(model, rows: list[list[int]], pad_id: int) -> np.ndarray:
    """The LiteRT runtime on `rows`, each call holding rows of one sequence bucket (as the Embedder groups them)."""
    out: list[np.ndarray | None] = [None] * len(rows)
    groups: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(model.run_length(len(row)), []).append(i)
    for members in groups.values():
        for j, vector in zip(members, model.embed([rows[i] for i in members], pad_id)):
            out[j] = vector
    return np.stack(out)


def torch_runner(model: str, rows: list[list[int]], pad_id: int, threads: int):
    """A callable that runs the source sentence-transformers model in torch on `rows` (batch 16, the same ids)."""
    import torch
    from sentence_transformers import SentenceTransformer

    from embedlite.converters.source import known_source
    from embedlite.runtimes.tokenizer import pad_batch

    torch.set_num_threads(threads)
    st = SentenceTransformer(str(known_source(model)), device="cpu")
    batches = []
    for i in range(0, len(rows), 16):
        input_ids, mask = pad_batch(rows[i : i + 16], pad_id)
        batches.append({"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask)})

    def run() -> None:
        with torch.inference_mode():
            for features in batches:
                st(dict(features))

    run()  # warm-up
    return run


if __name__ == "__main__":
    main()
