"""How much of its initial student a recipe's merge should keep, read on the dev splits.

A recipe's output keeps its per-mixture runs (runs/); they are averaged again with the recipe's initial student at
each weight (its languages then made neutral and its output centred, where the recipe does so), exported to fp32
ONNX (before Matryoshka axes and QAT) and scored on STS-B dev, the retrieval set derived from it and amazon dev, as
bench_models.py --split dev scores. Weight 1 is the initial student itself.
--languages scores what bench_languages.py --split dev does instead (STS dev in English and the five test
languages, cross-lingual accuracy@1), for the multilingual recipe. Writes benchmarks/results/merge_<recipe>_dev.md.
A negative w extrapolates: w = -1 adds every run's change to the initial student in full (task arithmetic).
Usage: python benchmarks/bench_merge.py --recipe embedlite-tiny --trained DIR [--weights 0,0.25,0.5,0.65,0.8,1]
    [--languages] [--out STEM]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench_common import DATA, write_markdown
from bench_models import DOMAINS, RECIPES, Vectors, amazon, classification


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", default="embedlite-tiny")
    parser.add_argument("--trained", type=Path, required=True, help="the recipe's output (with its runs/)")
    parser.add_argument("--weights", default="0,0.25,0.5,0.65,0.8,1")
    parser.add_argument("--languages", action="store_true", help="multilingual dev scores (bench_languages)")
    parser.add_argument("--out", default=None, help="results file stem (default: merge_<recipe>_dev)")
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    from embedlite import Embedder, export
    from embedlite.evaluation import load_sts, retrieval_from_sts, retrieval_scores, sts_spearman
    from embedlite.training import config_from_file
    from embedlite.training.distill import build_student, fixed_output_steps, seeded_runs
    from embedlite.training.merge import merge_with_initial

    config = config_from_file(RECIPES / f"{args.recipe}.toml", {"output": args.trained})
    runs = [args.trained / "runs" / name for name, _, _ in seeded_runs(config)]
    sts = load_sts(DATA / "stsb" / "sts-dev.csv")
    retrieval, reviews = retrieval_from_sts(sts), amazon("dev")
    work = Path(tempfile.mkdtemp(prefix="embedlite-merge-"))
    lines = [
        f"# {args.recipe}: its runs merged with its initial student, dev splits",
        "",
        f"Command: `python benchmarks/bench_merge.py --recipe {args.recipe} --trained DIR --weights={args.weights}"
        + (" --languages" if args.languages else "")
        + (f" --out {args.out}`" if args.out else "`"),
        "",
        "fp32 ONNX of the merge (before Matryoshka axes and QAT); STS-B dev Spearman, nDCG@10 on the retrieval "
        "set derived from sts-dev, amazon dev accuracy (logistic regression on train); the runs share 1 - w.",
        "",
        "| share of the initial student (w) | STS-B dev | nDCG@10 | " + " | ".join(DOMAINS) + " |",
        "|---:|---:|---:|" + "---:|" * len(DOMAINS),
    ]
    if args.languages:
        from bench_languages import LANGUAGES, language_scores, load_sets

        sets = load_sets("dev")
        lines[-4] = (
            "fp32 ONNX of the merge (before Matryoshka axes and QAT), on this machine (2 threads); STS dev "
            "Spearman per language (stsb-multi-mt, English: STS-B), its mean over de/es/fr/ja/zh, and cross-lingual "
            "accuracy@1 (bench_languages.py --split dev); the runs share 1 - w."
        )
        lines[-2:] = [
            "| w | " + " | ".join(f"STS dev {lang}" for lang in ("en", *LANGUAGES)) + " | mean (5) | x-ling acc@1 |",
            "|---:|" + "---:|" * (len(LANGUAGES) + 3),
        ]
    for weight in (float(w) for w in args.weights.split(",")):
        initial = build_student(config)
        if weight == 1:
            model = initial
        else:
            model = merge_with_initial(
                [SentenceTransformer(str(p), device="cpu") for p in runs], [str(p) for p in runs], initial, weight
            )
        model = fixed_output_steps(model, config)  # the recipe's steps between the merge and the axes
        model.save(str(work / f"w{weight}"))
        (artifact,) = export(work / f"w{weight}", work / f"w{weight}-onnx", precisions=("fp32",))
        vectors = Vectors(Embedder(artifact.path, device="cpu", threads=2))
        if args.languages:
            row = language_scores(vectors, sets)
            scores = [*row["sts"].values(), row["sts_mean"], row["xling_accuracy@1"]]
            lines.append(f"| {weight:g} | " + " | ".join(f"{v:.4f}" for v in scores) + " |")
            print(lines[-1], file=sys.stderr, flush=True)
            continue
        scores = [
            sts_spearman(vectors, sts),
            retrieval_scores(vectors, retrieval)["ndcg@10"],
            *(classification(vectors, reviews[d]) for d in DOMAINS),
        ]
        lines.append(f"| {weight:g} | " + " | ".join(f"{v:.4f}" for v in scores) + " |")
        print(lines[-1], file=sys.stderr, flush=True)
    write_markdown(f"{args.out or f'merge_{args.recipe}_dev'}.md", lines)


if __name__ == "__main__":
    main()
