"""Our own models beside the stock models of their size and the teacher, every model evaluated by the same code.

For embedlite-small, embedlite-tiny and their v2 (trained here from recipes/, or reused with --models DIR),
all-MiniLM-L6-v2, paraphrase-MiniLM-L3-v2 (each exported to ONNX fp32 / int8 / int4; --formats tflite adds
LiteRT rows, NAME-litert), the shipped artifacts as they
are, all-mpnet-base-v2 (fp32) and EmbeddingGemma-300m (fp32, int4; STS prompt for STS-B): STS-B Spearman,
stsb-retrieval nDCG@10 and Recall@100, amazon logistic-regression accuracy (four domains), at every Matryoshka
dim, and CPU sentences/s; plus each recipe's training time. --split dev evaluates on the dev splits instead
(STS-B dev, a retrieval set derived from it the way stsb-retrieval is from test, amazon train -> dev): the
splits that choose between models.

    python benchmarks/bench_models.py --threads 2 [--models DIR] [--split dev] [--only M,M] [--precisions P,P]
        [--formats onnx,tflite] [--no-speed] [--out STEM]
    python benchmarks/bench_models.py --speed-only --work DIR [--only M,M] [--out STEM]   (the artifacts of a
        run and the shipped ones --only names, timed side by side; STEM.png plots them against results/STEM.json)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from bench_common import DATA, RESULTS, pyplot, write_markdown

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
DOMAINS = ("books", "dvd", "electronics", "kitchen")
PRECISIONS = ("fp32", "int8", "int4")
TEACHER = "all-mpnet-base-v2"
GEMMA = "embeddinggemma-300m"
# model -> (where it comes from, the peer it must beat)
MODELS = {
    "embedlite-small": ("recipe", "all-MiniLM-L6-v2"),
    "embedlite-small-v2": ("recipe", "all-MiniLM-L6-v2"),  # distilled from EmbeddingGemma-300m
    "embedlite-small-v3": ("recipe", "all-MiniLM-L6-v2"),  # v2 with the neighbours geometry: the default
    "embedlite-small-v4": ("recipe", "all-MiniLM-L6-v2"),  # an experiment: v3 with 20,000 SST-2 sentences
    "embedlite-small-v6": ("recipe", "all-MiniLM-L6-v2"),  # an experiment: v3, reviews read for Classification
    "embedlite-small-v7": ("recipe", "all-MiniLM-L6-v2"),  # v3 with its output centred, 0.3 of the start kept
    "embedlite-small-v8": ("recipe", "all-MiniLM-L6-v2"),  # an experiment: v7, review windows spread across files
    "embedlite-small-v9": ("recipe", "all-MiniLM-L6-v2"),  # an experiment: v7 with two seeds of each run, souped
    "embedlite-small-v10": ("recipe", "all-MiniLM-L6-v2"),  # v7 trained for two epochs
    "embedlite-small-shipped": ("shipped", "all-MiniLM-L6-v2"),  # the Apache-2.0 embedlite-small as shipped (int8)
    "embedlite-small-v10-litert-shipped": ("shipped", "all-MiniLM-L6-v2"),  # the embedded default as shipped (LiteRT)
    "embedlite-small-v10-shipped": ("shipped", "all-MiniLM-L6-v2"),  # the same weights as shipped on ONNX
    "embedlite-small-v7-litert-shipped": ("shipped", "all-MiniLM-L6-v2"),  # the default of 2026-12-06 as shipped
    "embedlite-small-v7-shipped": ("shipped", "all-MiniLM-L6-v2"),  # the same weights as shipped on ONNX
    "embedlite-small-v3-litert-shipped": ("shipped", "all-MiniLM-L6-v2"),  # the default of 2026-12-05 as shipped
    "embedlite-small-v3-shipped": ("shipped", "all-MiniLM-L6-v2"),  # the default of 2026-12-04 as shipped
    "embedlite-small-v2-shipped": ("shipped", "all-MiniLM-L6-v2"),  # the default of 2026-12-03 as shipped
    "all-MiniLM-L6-v2": ("source", None),
    "embedlite-tiny": ("recipe", "paraphrase-MiniLM-L3-v2"),
    "embedlite-tiny-v2": ("recipe", "paraphrase-MiniLM-L3-v2"),  # distilled from EmbeddingGemma-300m
    "embedlite-tiny-v3": ("recipe", "paraphrase-MiniLM-L3-v2"),  # an experiment: v2 with the neighbours geometry
    "embedlite-tiny-v4": ("recipe", "paraphrase-MiniLM-L3-v2"),  # an experiment: v3 with 20,000 SST-2 sentences
    "embedlite-tiny-v7": ("recipe", "paraphrase-MiniLM-L3-v2"),  # an experiment: v2, reviews read for Classification
    "embedlite-tiny-v8": ("recipe", "paraphrase-MiniLM-L3-v2"),  # v2 with its output centred, 0.5 of the start kept
    "embedlite-tiny-v9": ("recipe", "paraphrase-MiniLM-L3-v2"),  # v8 trained for two epochs
    "embedlite-tiny-v10": ("recipe", "paraphrase-MiniLM-L3-v2"),  # v9 trained for three epochs
    "paraphrase-MiniLM-L3-v2": ("source", None),
    TEACHER: ("source", None),
    GEMMA: ("source", None),  # the v2 students' teacher
}
# the references are not artifacts to ship: mpnet at fp32 only (its int8/int4 would cost a third of the run),
# EmbeddingGemma at fp32 and int4 (its small on-device form)
PRECISIONS_OF = {TEACHER: ("fp32",), GEMMA: ("fp32", "int4")}
# EmbeddingGemma's amazon columns (6,643 train and test reviews) were sized at 72 min per precision on 2 cores
# (1.5 reviews/s, 2026-12-04, another CPU); the whole fp32 run took 35 min on an Intel Xeon with AMX (2026-12-06).
# They are left empty (nan) unless --gemma-amazon asks for them
NO_AMAZON = {GEMMA}
SUFFIX = {"onnx": "", "tflite": "-litert"}  # a model's row name in each export format


class Vectors:
    """One artifact's full-dim embeddings, computed once per text (and prompt kind); any Matryoshka dim is a
    re-normalised prefix. Quacks like an Embedder for embedlite.evaluation."""

    def __init__(self, embedder, dim: int | None = None, cache: dict | None = None):
        self.embedder, self.dim = embedder, dim
        self._cache: dict[tuple[str, str], np.ndarray] = {} if cache is None else cache

    def at(self, dim: int) -> Vectors:
        return Vectors(self.embedder, dim, self._cache)

    def embed(self, texts, batch_size=32, task: str = "STS", **_):
        # a model with task prompts (EmbeddingGemma) and no default task embeds each set with the prompt of its
        # model card's figure: STS for STS-B, Classification for amazon; the students have none
        task = task if task in self.embedder.tasks else None
        return self._cached(task or "text", texts, lambda xs: self.embedder.embed(xs, task=task, batch_size=batch_size))

    def embed_query(self, texts, batch_size=32, **_):
        return self._cached("query", texts, lambda xs: self.embedder.embed_query(xs, batch_size=batch_size))

    def embed_documents(self, texts, titles=None, batch_size=32, **_):
        assert not any(titles or ()), "titled documents are not cached by title"
        return self._cached("document", texts, lambda xs: self.embedder.embed_documents(xs, batch_size=batch_size))

    def _cached(self, kind: str, texts: list[str], compute) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if (kind, t) not in self._cache))
        if missing:
            self._cache.update(((kind, t), v) for t, v in zip(missing, compute(missing)))
        out = np.stack([self._cache[(kind, t)] for t in texts])[:, : self.dim]
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def amazon(split: str) -> dict[str, tuple]:
    """domain -> (train texts, train labels, eval texts, eval labels); eval is test (as the shared README's
    reference figure) or dev."""

    def read(domain, part):
        rows = [json.loads(line) for line in (DATA / "amazon-reviews" / domain / f"{part}.jsonl").open()]
        return [r["text"] for r in rows], np.array([r["label"] for r in rows])

    return {d: (*read(d, "train"), *read(d, "test" if split == "test" else "dev")) for d in DOMAINS}


def classification(vectors: Vectors, data: tuple) -> float:
    return float(np.mean(correct(vectors, data)))


def correct(vectors: Vectors, data: tuple) -> np.ndarray:
    """Whether each eval review gets its label from a logistic regression fit on the train reviews."""
    from sklearn.linear_model import LogisticRegression

    train_x, train_y, test_x, test_y = data
    model = LogisticRegression(max_iter=1000).fit(vectors.embed(train_x, task="Classification"), train_y)
    return model.predict(vectors.embed(test_x, task="Classification")) == test_y


def speed(embedder, texts: list[str]) -> float:
    """Sentences/s at batch 32 over `texts` (after a warm-up batch)."""
    embedder.embed(texts[:64], batch_size=32)
    start = time.perf_counter()
    embedder.embed(texts, batch_size=32)
    return len(texts) / (time.perf_counter() - start)


def source_for(name: str, models_dir: Path | None, work: Path, log: dict) -> str:
    """A sentence-transformers directory (or known source name) for `name`: recipes are trained unless reused."""
    kind, _ = MODELS[name]
    if kind == "source":
        return name
    if models_dir is not None and (models_dir / name / "modules.json").is_file():
        out = models_dir / name
    else:
        from embedlite.training import config_from_file, distill

        out = work / name
        distill(config_from_file(RECIPES / f"{name}.toml", {"output": out}))
    record = json.loads((out / "distill.json").read_text())
    log[name] = {
        "seconds": record["seconds"],
        "texts": record["texts"],
        "steps": sum(p["steps"] for p in record["phases"]),
    }
    return str(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="folder holding trained embedlite-small/ and embedlite-tiny/ (else they are trained)",
    )
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--only", default=",".join(MODELS), help="comma-separated model names")
    parser.add_argument(
        "--precisions",
        default=None,
        help=f"comma-separated ONNX precisions (default {','.join(PRECISIONS)}; references keep theirs unless named)",
    )
    parser.add_argument(
        "--gemma-amazon",
        action="store_true",
        help="EmbeddingGemma's amazon columns too (its Classification prompt; 30 to 72 min per precision, 2 cores)",
    )
    parser.add_argument(
        "--formats", default="onnx", help="comma-separated: onnx, tflite (rows NAME-litert, as the LiteRT default)"
    )
    parser.add_argument("--no-speed", action="store_true", help="quality only (for runs beside other work)")
    parser.add_argument(
        "--speed-only",
        action="store_true",
        help="sentences/s of the artifacts an earlier run left in --work, side by side, alone",
    )
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument(
        "--out",
        default=None,
        help="results file stem in benchmarks/results (default: models; models_dev with --split dev)",
    )
    args = parser.parse_args()

    import tempfile

    from embedlite import Embedder, export
    from embedlite.evaluation import load_retrieval, load_sts, retrieval_from_sts, retrieval_scores, sts_spearman

    work = args.work or Path(tempfile.mkdtemp(prefix="embedlite-models-"))
    if args.speed_only:
        return speed_table(work, args)
    sts = load_sts(DATA / "stsb" / f"sts-{args.split}.csv")
    retrieval = load_retrieval(DATA / "stsb-retrieval") if args.split == "test" else retrieval_from_sts(sts)
    reviews = amazon(args.split)
    speed_texts = load_sts(DATA / "stsb" / "sts-test.csv")
    speed_texts = speed_texts.sentences1 + speed_texts.sentences2
    rows, training = [], {}
    requested = tuple((args.precisions or ",".join(PRECISIONS)).split(","))
    no_amazon = set() if args.gemma_amazon else NO_AMAZON
    for name in args.only.split(","):
        if MODELS[name][0] == "shipped":  # the artifact in the package, evaluated as users get it
            from embedlite.artifact import read_manifest
            from embedlite.models import SHIPPED

            shipped = SHIPPED[name.removesuffix("-shipped")]
            manifest = read_manifest(shipped)
            exported = [
                SimpleNamespace(
                    path=shipped,
                    manifest=manifest,
                    report={"bytes": manifest.files[manifest.model_file]["bytes"]},
                )
            ]
        else:
            source = source_for(name, args.models, work, training)
            precisions = PRECISIONS_OF.get(name, requested)
            if args.precisions:  # named: a reference model runs at those of its own it is asked for
                precisions = tuple(p for p in precisions if p in requested) or precisions
            exported = [
                result
                for fmt in args.formats.split(",")
                for result in export(
                    source,
                    work / "artifacts" / (name + SUFFIX[fmt]),
                    formats=(fmt,),
                    precisions=precisions,
                    name=name + SUFFIX[fmt],  # the TFLite one named as the LiteRT default is: NAME-litert
                    progress=lambda m: print(f"[{name}] {m}", file=sys.stderr),
                )
            ]
        for result in exported:
            embedder = Embedder(result.path, device="cpu", threads=args.threads)
            full = Vectors(embedder)
            row = {
                "model": result.manifest.name if MODELS[name][0] != "shipped" else name,
                "precision": result.manifest.precision,
                "mb": result.report["bytes"] / 1e6,
                "sent_per_s": float("nan") if args.no_speed else speed(embedder, speed_texts),
                "dims": {},
            }
            for dim in embedder.dims:
                vectors = full.at(dim)
                scores = retrieval_scores(vectors, retrieval)
                row["dims"][dim] = {
                    "sts": sts_spearman(vectors, sts),
                    "ndcg@10": scores["ndcg@10"],
                    "recall@100": scores["recall@100"],
                    **{d: float("nan") if name in no_amazon else classification(vectors, reviews[d]) for d in DOMAINS},
                }
                print(row["model"], row["precision"], dim, json.dumps(row["dims"][dim]), file=sys.stderr)
            rows.append(row)
    report(rows, training, args)


def speed_table(work: Path, args, rounds: int = 3) -> None:
    """Every artifact under work/artifacts, and the shipped ones `--only` names, in alternating rounds (best round
    kept), beside all-MiniLM-L6-v2 at the same precision."""
    from embedlite import Embedder
    from embedlite.artifact import read_manifest
    from embedlite.evaluation import load_sts
    from embedlite.models import SHIPPED
    from embedlite.runtimes.cpu import int8_kernels

    texts = load_sts(DATA / "stsb" / "sts-test.csv")
    texts = texts.sentences1 + texts.sentences2
    found = sorted(p.parent for p in (work / "artifacts").glob("**/manifest.json"))
    shipped = {SHIPPED[n.removesuffix("-shipped")]: n for n in args.only.split(",") if MODELS[n][0] == "shipped"}
    models = {p: Embedder(p, device="cpu", threads=args.threads) for p in [*found, *shipped]}
    best = dict.fromkeys(models, 0.0)
    for _ in range(rounds):
        for path, embedder in models.items():
            best[path] = max(best[path], speed(embedder, texts))
    manifests = {p: read_manifest(p) for p in best}
    rows = {(shipped.get(p, m.name), m.precision): best[p] for p, m in manifests.items()}
    stem = args.out or "models"
    lines = [
        "# Sentences/s of each model's artifacts, side by side",
        "",
        f"Command: `python benchmarks/bench_models.py --speed-only --work DIR --threads {args.threads}"
        f"{'' if args.only == ','.join(MODELS) else ' --only ' + args.only}{' --out ' + args.out if args.out else ''}`"
        " (DIR: the artifacts of the quality run; the shipped ones `--only` names are read from the package). "
        f"Machine: {int8_kernels()}. Batch 32 over the 2758 STS-B test sentences, each "
        f"artifact in {rounds} alternating rounds, best kept; this process alone on the machine.",
        "",
        "| model | precision | sent/s | × all-MiniLM-L6-v2 (same precision) |",
        "|---|---|---:|---:|",
    ]
    for (name, precision), value in sorted(rows.items()):
        base = rows.get(("all-MiniLM-L6-v2", precision))
        lines.append(
            f"| {name} | {precision} | {value:.0f} | {value / base:.2f} |"
            if base
            else f"| {name} | {precision} | {value:.0f} | |"
        )
    write_markdown(f"{stem}_speed.md", lines)
    quality = RESULTS / f"{stem}.json"  # the quality run these artifacts came from: plot it against these speeds
    if quality.is_file():
        runs = [r for r in json.loads(quality.read_text())["rows"] if (r["model"], r["precision"]) in rows]
        for r in runs:
            r["sent_per_s"] = rows[(r["model"], r["precision"])]
            r["dims"] = {int(d): v for d, v in r["dims"].items()}
        plot(runs, f"{stem}.png")


def report(rows: list[dict], training: dict, args) -> None:
    from embedlite.runtimes.cpu import int8_kernels

    split = args.split
    stem = args.out or ("models" if split == "test" else "models_dev")
    (RESULTS / f"{stem}.json").write_text(
        json.dumps({"rows": rows, "training": training}, indent=1, default=str) + "\n"
    )
    lines = [
        f"# embedlite's own models beside their peers ({split} splits)",
        "",
        f"Command: `python benchmarks/bench_models.py --threads {args.threads}"
        f"{' --split dev' if split == 'dev' else ''}{' --models DIR' if args.models else ''}"
        f"{'' if args.only == ','.join(MODELS) else ' --only ' + args.only}"
        f"{' --precisions ' + args.precisions if args.precisions else ''}"
        f"{' --gemma-amazon' if args.gemma_amazon else ''}"
        f"{'' if args.formats == 'onnx' else ' --formats ' + args.formats}{' --work DIR' if args.work else ''}"
        f"{' --no-speed' if args.no_speed else ''}{' --out ' + args.out if args.out else ''}`",
        f"Machine: {int8_kernels()}, {args.threads} threads, CPU only. Every model is exported by embedlite "
        "to ONNX (TFLite: the `-litert` rows), or read as shipped (`-shipped`: the package's own file, TFLite "
        "for the LiteRT default) (all-mpnet-base-v2 at fp32 only, EmbeddingGemma at fp32 and int4, "
        + (
            "its amazon columns with its Classification prompt"
            if args.gemma_amazon
            else "its amazon columns not run: 30 to 72 min per precision on 2 cores"
        )
        + ") and evaluated by the same code in this one run. STS-B: Spearman of "
        f"cosine (sts-{split}.csv). Retrieval: nDCG@10 and Recall@100 ("
        + ("stsb-retrieval" if split == "test" else "derived from sts-dev.csv as stsb-retrieval is from test")
        + "). Amazon: logistic regression fit on each domain's train embeddings, accuracy on "
        + ("test" if split == "test" else "dev")
        + " (the re-split data: train, dev and test disjoint). "
        "sent/s: batch 32 over the 2758 STS-B test sentences.",
        "",
        "## Full dim",
        "",
        "| model | precision | MB | dim | STS-B | nDCG@10 | R@100 | books | dvd | electronics | kitchen | sent/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        dim = max(r["dims"])
        lines.append(_row(r, dim))
    lines += [
        "",
        "## Every Matryoshka dim (share of the model's own full-dim STS-B in brackets)",
        "",
        "| model | precision | dim | STS-B | nDCG@10 | R@100 | books | dvd | electronics | kitchen |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        top = r["dims"][max(r["dims"])]["sts"]
        for dim, s in sorted(r["dims"].items(), reverse=True):
            lines.append(
                f"| {r['model']} | {r['precision']} | {dim} | {s['sts']:.4f} ({s['sts'] / top:.1%}) "
                f"| {s['ndcg@10']:.4f} | {s['recall@100']:.4f} | " + " | ".join(f"{s[d]:.4f}" for d in DOMAINS) + " |"
            )
    if training:
        lines += [
            "",
            "## Training cost (this machine, CPU)",
            "",
            "Runs saved by an earlier invocation and reused count with the seconds they took then.",
            "",
            "| recipe | texts | steps | teacher s | total s |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, t in training.items():
            parts = {k: v for k, v in t["seconds"].items() if k != "total"}
            # a rerun that reuses saved mixture runs records their seconds as "run NAME (saved)" beside its own total
            total = t["seconds"]["total"] + sum(v for k, v in parts.items() if k.endswith("(saved)"))
            lines.append(f"| {name} | {t['texts']} | {t['steps']} | {parts.get('teacher', 0):.0f} | {total:.0f} |")
    write_markdown(f"{stem}.md", lines)
    if not any(np.isnan(r["sent_per_s"]) for r in rows):  # quality vs speed needs the speed
        plot(rows, f"{stem}.png")


def _row(r: dict, dim: int) -> str:
    s = r["dims"][dim]
    return (
        f"| {r['model']} | {r['precision']} | {r['mb']:.1f} | {dim} | {s['sts']:.4f} | {s['ndcg@10']:.4f} "
        f"| {s['recall@100']:.4f} | " + " | ".join(f"{s[d]:.4f}" for d in DOMAINS) + f" | {r['sent_per_s']:.0f} |"
    )


def plot(rows: list[dict], name: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    markers = {"fp32": "o", "int8": "s", "int4": "^"}
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]  # 10 colours, more models: this run's, in order
    colors = {m: cycle[i % len(cycle)] for i, m in enumerate(dict.fromkeys(r["model"] for r in rows))}
    for r in rows:
        ax.scatter(
            r["sent_per_s"],
            r["dims"][max(r["dims"])]["sts"],
            marker=markers[r["precision"]],
            color=colors[r["model"]],
            label=f"{r['model']} {r['precision']}",
        )
    ax.set_xscale("log")
    ax.set_xlabel("sentences/s, batch 32, CPU (log)")
    ax.set_ylabel("STS-B Spearman (full dim)")
    ax.set_title("Quality vs speed: embedlite's models and their peers")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(RESULTS / name, dpi=120)


if __name__ == "__main__":
    main()
