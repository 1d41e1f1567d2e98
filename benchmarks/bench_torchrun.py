"""Distillation under torchrun: 2 processes against 1, on a whole run, on this machine's cores.

One recipe (embedlite-tiny's losses, one run over a few thousand train texts, teacher all-mpnet-base-v2) is trained
three times with `embedlite distill` under `torchrun --standalone`: 1 process (seed 0), 2 processes (seed 0; each
process gets half of the cores) and 1 process with seed 1, whose distance to seed 0 is the noise the comparison is
read against. Each student is exported to fp32 ONNX and scored by the same code: STS-B dev and test Spearman at
384 and 64 dims. Writes benchmarks/results/torchrun.md and torchrun.png (the loss curves).
Usage: python benchmarks/bench_torchrun.py [--max-texts 4000] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_common import DATA, RESULTS, pyplot, write_markdown
from bench_models import RECIPES, Vectors

RUNS = (("1 process", 1, 0), ("2 processes", 2, 0), ("1 process, seed 1", 1, 1))
DIMS = (384, 64)


def recipe(data: Path, max_texts: int, seed: int) -> str:
    """embedlite-tiny's recipe as one run over STS-B and SST-2 train texts: no mixtures, merge, axes or QAT."""
    return "\n".join(
        [
            f'extends = "{RECIPES / "embedlite-tiny.toml"}"',
            "mixtures = []",
            "merge_initial = 0.0",
            "matryoshka_axes = []",
            "qat_bits = []",
            f"max_texts = {max_texts}",
            f"seed = {seed}",
            f'train_texts = ["{data / "stsb" / "sts-train.csv"}", "{data / "sst2" / "train.tsv"}"]',
            "",
        ]
    )


def train(work: Path, data: Path, max_texts: int, name: str, processes: int, seed: int) -> dict:
    config = work / f"seed{seed}.toml"
    config.write_text(recipe(data, max_texts, seed))
    out = work / name.replace(" ", "-").replace(",", "")
    cli = str(Path(sys.executable).parent / "embedlite")
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // processes))}
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={processes}",
            cli,
            "distill",
            "--config",
            str(config),
            "-o",
            str(out),
        ],
        check=True,
        env=env,
    )
    seconds = time.perf_counter() - start
    record = json.loads((out / "distill.json").read_text())
    assert record["processes"] == processes
    return {"name": name, "path": out, "seconds": seconds, "curve": record["phases"][0]["loss_curve"]}


def score(run: dict, work: Path, sts: dict) -> None:
    from embedlite import Embedder, export
    from embedlite.evaluation import sts_spearman

    (artifact,) = export(run["path"], work / f"{run['path'].name}-onnx", precisions=("fp32",))
    vectors = Vectors(Embedder(artifact.path, device="cpu"))  # each text embedded once, every dim a prefix
    for split, data in sts.items():
        for dim in DIMS:
            run[f"{split}@{dim}"] = sts_spearman(vectors.at(dim), data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--max-texts", type=int, default=4000)
    parser.add_argument("--work", type=Path, default=None, help="where students and artifacts go (default: a temp dir)")
    args = parser.parse_args()
    from embedlite.evaluation import load_sts

    work = args.work or Path(tempfile.mkdtemp(prefix="embedlite-torchrun-"))
    work.mkdir(parents=True, exist_ok=True)
    runs = [train(work, args.data, args.max_texts, name, n, seed) for name, n, seed in RUNS]
    sts = {split: load_sts(args.data / "stsb" / f"sts-{split}.csv") for split in ("dev", "test")}
    for run in runs:
        score(run, work, sts)
    one, two, other_seed = (np.array(r["curve"]) for r in runs)
    window = max(1, len(one) // 10)

    def smooth(curve: np.ndarray) -> np.ndarray:
        return np.convolve(curve, np.ones(window) / window, mode="valid")

    def gap(curve: np.ndarray) -> float:
        return float(np.mean(np.abs(smooth(curve) - smooth(one)) / smooth(one)))

    lines = [
        "# Distillation under torchrun: 2 processes against 1",
        "",
        f"Command: `python benchmarks/bench_torchrun.py --max-texts {args.max_texts}`",
        "",
        f"Machine: {os.cpu_count()} CPU cores, no GPU; each process gets cores / processes torch threads. One run "
        f"of embedlite-tiny's losses (geometry at 384/256/128/64, learned map, NCE with 8 mined negatives, "
        f"spread-out, teacher-ranked STS-B train pairs) over {args.max_texts} STS-B/SST-2 train texts, "
        f"batch 64, 1 epoch, teacher all-mpnet-base-v2 (cached embeddings), student paraphrase-MiniLM-L3-v2; "
        f"launched by `torchrun --standalone --nproc-per-node N embedlite distill`. Scores: fp32 ONNX export, "
        f"STS-B Spearman of cosine. Loss gap: mean relative distance of the loss curve (moving average over "
        f"{window} steps) to the 1-process seed-0 curve.",
        "",
        "| run | steps | wall s | first loss | last loss | loss gap | STS-B dev 384 | dev 64 | test 384 | test 64 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        curve = np.array(run["curve"])
        lines.append(
            f"| {run['name']} | {len(curve)} | {run['seconds']:.0f} | {curve[0]:.4f} | "
            f"{smooth(curve)[-1]:.4f} | {gap(curve):.2%} | {run['dev@384']:.4f} | {run['dev@64']:.4f} | "
            f"{run['test@384']:.4f} | {run['test@64']:.4f} |"
        )
    delta = {k: runs[1][k] - runs[0][k] for k in ("dev@384", "test@384")}
    noise = {k: runs[2][k] - runs[0][k] for k in ("dev@384", "test@384")}
    lines += [
        "",
        f"2 processes - 1 process: STS-B dev {delta['dev@384']:+.4f}, test {delta['test@384']:+.4f}, "
        f"loss gap {gap(two):.2%}; seed 1 - seed 0 (the noise): dev {noise['dev@384']:+.4f}, "
        f"test {noise['test@384']:+.4f}, loss gap {gap(other_seed):.2%}.",
    ]
    write_markdown("torchrun.md", lines)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for run in runs:
        ax.plot(smooth(np.array(run["curve"])), label=run["name"])
    ax.set_xlabel(f"step (moving average over {window})")
    ax.set_ylabel("training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "torchrun.png", dpi=120)


if __name__ == "__main__":
    main()
