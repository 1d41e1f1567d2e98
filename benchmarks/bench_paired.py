"""Is a model's lead or lag over its peer larger than the test sets' sampling noise? A paired bootstrap.

The model and its peer (bench_models' pairs: embedlite-tiny and paraphrase-MiniLM-L3-v2, embedlite-small and
all-MiniLM-L6-v2), both exported by embedlite to fp32 ONNX, embed the test texts once; or the model as an artifact
already exported (--artifact: the shipped ones are in sdk/shipped/NAME) and the peer exported at
its precision. Each metric is computed again
on resamples of its items (STS-B pairs, retrieval queries, amazon test reviews; the logistic regression is fit once
on train), the same resample for both models, and the 95% interval of the difference is read from the resamples.
An interval that holds 0 is a difference these test sets cannot tell from chance.

    python benchmarks/bench_paired.py (--models DIR | --artifact DIR) [--model embedlite-tiny] [--resamples 2000]
        [--peer-artifact DIR]    (another artifact as the peer, e.g. the shipped default against its successor)

Writes benchmarks/results/paired_<model>.md (paired_<model>_<precision>.md for an artifact not at fp32;
paired_<model>_vs_<peer>.md with --peer-artifact).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from bench_common import DATA, FORMATS, write_markdown
from bench_models import DOMAINS, MODELS, Vectors, amazon, correct


def bootstrap(statistic, n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """statistic(indices) over `resamples` draws of n item indices with replacement."""
    return np.array([statistic(rng.integers(0, n, n)) for _ in range(resamples)])


def main() -> None:
    parser = argparse.ArgumentParser()
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--models", type=Path, help="folder holding the trained model (as bench_models)")
    source.add_argument("--artifact", type=Path, help="the model as an exported artifact directory")
    parser.add_argument(
        "--model",
        default="embedlite-tiny",
        choices=list(
            dict.fromkeys(m.removesuffix("-shipped") for m, (k, _) in MODELS.items() if k in ("recipe", "shipped"))
        ),
        help="a recipe's model, or a shipped one's name (with --artifact)",
    )
    parser.add_argument("--peer-artifact", type=Path, help="the peer as an artifact directory (its manifest names it)")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from embedlite import Embedder, export
    from embedlite.artifact import read_manifest
    from embedlite.evaluation import load_retrieval, load_sts, retrieval_per_query, spearman, sts_cosines

    peer_manifest = read_manifest(args.peer_artifact) if args.peer_artifact else None
    peer = peer_manifest.name if peer_manifest else MODELS.get(args.model, MODELS.get(f"{args.model}-shipped"))[1]
    work = Path(tempfile.mkdtemp(prefix="embedlite-paired-"))
    if args.artifact:
        manifest = read_manifest(args.artifact)
        if manifest.name != args.model:
            sys.exit(f"{args.artifact} holds {manifest.name}, not {args.model} (--model)")
        precision, model_path, fmt = manifest.precision, args.artifact, manifest.format
    else:
        trained = args.models / args.model
        if not (trained / "modules.json").is_file():
            sys.exit(f"{trained} is not a trained sentence-transformers directory (bench_models.py --models DIR)")
        precision, fmt = "fp32", "onnx"
        (exported,) = export(
            trained,
            work / args.model,
            precisions=(precision,),
            name=args.model,
            progress=lambda m: print(f"[{args.model}] {m}", file=sys.stderr),
        )
        model_path = exported.path
    if args.peer_artifact:
        peer_path = args.peer_artifact
    else:
        (peer_artifact,) = export(
            peer,
            work / peer,
            precisions=(precision,),
            name=peer,
            progress=lambda m: print(f"[{peer}] {m}", file=sys.stderr),
        )
        peer_path = peer_artifact.path
    sts = load_sts(DATA / "stsb" / "sts-test.csv")
    retrieval = load_retrieval(DATA / "stsb-retrieval")
    reviews = amazon("test")
    items: dict[str, dict[str, np.ndarray]] = {}  # model -> set -> per-item values
    for name, path in ((args.model, model_path), (peer, peer_path)):
        vectors = Vectors(Embedder(path, device="cpu", threads=args.threads))
        items[name] = {
            "STS-B": sts_cosines(vectors, sts),
            "nDCG@10": retrieval_per_query(vectors, retrieval)["ndcg@10"],
            **{d: correct(vectors, reviews[d]).astype(float) for d in DOMAINS},
        }
        print(f"[{name}] scored", file=sys.stderr)

    rng = np.random.default_rng(args.seed)
    a, b = items[args.model], items[peer]

    def sts_difference(i):
        return spearman(a["STS-B"][i], sts.scores[i]) - spearman(b["STS-B"][i], sts.scores[i])

    given = f"--artifact {args.artifact}" if args.artifact else "--models DIR"
    if peer_manifest:
        given += f" --peer-artifact {args.peer_artifact}"
        origin = f"both as the artifacts given (the peer at {peer_manifest.precision})"
    elif args.artifact:
        origin = "the model as the artifact given, the peer exported by embedlite"
    else:
        origin = "exported by embedlite"
    peer_format = peer_manifest.format if peer_manifest else "onnx"
    formats = (
        f"{FORMATS[fmt][0]} of both"
        if fmt == peer_format
        else f"{FORMATS[fmt][0]} (the model), {FORMATS[peer_format][0]} (the peer)"
    )
    lines = [
        f"# {args.model} against {peer}: paired bootstrap on the test splits",
        "",
        f"Command: `python benchmarks/bench_paired.py {given} --model {args.model} --resamples {args.resamples} "
        f"--seed {args.seed}`",
        "",
        f"{precision} {formats}, {origin}. Each set's items (STS-B test pairs, stsb-retrieval queries, "
        "amazon test reviews, the classifier fit once on train) are resampled with replacement, the same "
        f"draw for both models, {args.resamples} times; the interval holds 95% of the differences. Amazon: the "
        "re-split data (train, dev and test disjoint since 2026-12-02).",
        "",
        f"| set | items | {args.model} | {peer} | difference | 95% interval | resamples with {args.model} ahead |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for name in ("STS-B", "nDCG@10", *DOMAINS):
        n = len(a[name])
        if name == "STS-B":
            value_a, value_b = spearman(a[name], sts.scores), spearman(b[name], sts.scores)
            draws = bootstrap(sts_difference, n, args.resamples, rng)
        else:
            value_a, value_b = float(a[name].mean()), float(b[name].mean())
            delta = a[name] - b[name]
            draws = bootstrap(lambda i, delta=delta: float(delta[i].mean()), n, args.resamples, rng)
        low, high = np.percentile(draws, [2.5, 97.5])
        lines.append(
            f"| {name} | {n} | {value_a:.4f} | {value_b:.4f} | {value_a - value_b:+.4f} | "
            f"[{low:+.4f}, {high:+.4f}] | {np.mean(draws > 0):.0%} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    stem = f"paired_{args.model}{'' if precision == 'fp32' else '_' + precision}"
    write_markdown(f"{stem}_vs_{peer}.md" if args.peer_artifact else f"{stem}.md", lines)


if __name__ == "__main__":
    main()
