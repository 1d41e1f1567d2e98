"""Multilingual quality and speed, every model evaluated by the same code (bench_models.Vectors and speed).

For each model: STS Spearman on the test split of every language stsb-multi-mt has one for (de, es, fr, ja, zh)
and on the English STS-B test; cross-lingual retrieval from the same test sets, row for row translations of
each other (an English sentence finds its translation among all of that language's test sentences, and the
reverse: accuracy@1 and nDCG@10; evaluation.parallel_pairs keeps the sentences with one translation only);
sentences/s on `--threads` threads over the five languages' test sentences, batch 32. Writes
results/languages.md, .json and .png.

    python benchmarks/bench_languages.py --threads 2 [--model LABEL=NAME_OR_DIR[@TASK] ...] [--split dev]

--model replaces the default set: EmbeddingGemma-300m (fp32, its "STS" prompt: sentence similarity, for
translations too), multilingual-e5-small (dequantized from its 4-bit copy; its default "query: " prompt, which its
card gives for symmetric tasks and bitext mining) and embedlite's English default. --split dev reads the dev files
(all eleven languages have one) and skips nothing else: the split that chooses between models.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from bench_common import DATA, RESULTS, default_model_label, pyplot, write_markdown
from bench_models import Vectors, speed

LANGUAGES = ("de", "es", "fr", "ja", "zh")
DEFAULT_MODELS = (
    "EmbeddingGemma-300m fp32=embeddinggemma-300m@STS",
    "multilingual-e5-small=multilingual-e5-small@query",
    "embedlite default=",
)


class WithTask:
    """An Embedder that reads one task's prompt before every text (None: the model's default task)."""

    tasks = ()  # none offered: its own task is fixed, so bench_models.Vectors does not choose the STS one for it

    def __init__(self, embedder, task: str | None):
        self.embedder, self.task = embedder, task

    def embed(self, texts, batch_size=32, **_):
        return self.embedder.embed(texts, task=self.task, batch_size=batch_size)


def sts_file(language: str, split: str) -> Path:
    if language == "en" and split == "test":
        return DATA / "stsb" / "sts-test.csv"
    return DATA / "stsb-multi-mt" / f"stsb-{language}-{split}.csv"


def parse_model(spec: str) -> tuple[str, str | None, str | None]:
    """LABEL=NAME_OR_DIR[@TASK] -> (label, model or None for the default, task or None)."""
    label, _, rest = spec.partition("=")
    model, _, task = rest.partition("@")
    return label, model or None, task or None


def load_sets(split: str) -> dict:
    """language -> StsData of `split`, English first."""
    from embedlite.evaluation import load_sts

    return {lang: load_sts(sts_file(lang, split)) for lang in ("en", *LANGUAGES)}


def language_scores(vectors, sets: dict) -> dict:
    """STS Spearman per language and cross-lingual retrieval (English <-> each language), with their means."""
    from embedlite.evaluation import parallel_pairs, parallel_retrieval, sts_spearman

    row: dict = {"sts": {lang: sts_spearman(vectors, data) for lang, data in sets.items()}}
    row["sts_mean"] = float(np.mean([row["sts"][lang] for lang in LANGUAGES]))
    row["xling"] = {}
    for lang in LANGUAGES:
        english, other = parallel_pairs(sets["en"], sets[lang])
        row["xling"][f"en→{lang}"] = parallel_retrieval(vectors, english, other)
        row["xling"][f"{lang}→en"] = parallel_retrieval(vectors, other, english)
        row["xling"][f"en→{lang}"]["pairs"] = len(english)
    for metric in ("accuracy@1", "ndcg@10"):
        row[f"xling_{metric}"] = float(np.mean([m[metric] for m in row["xling"].values()]))
    return row


def evaluate(label: str, model: str | None, task: str | None, sets: dict, threads: int, no_speed: bool) -> dict:
    from embedlite import Embedder

    embedder = Embedder(model, device="cpu", threads=threads)
    row = {"model": label, "name": embedder.manifest.name, "precision": embedder.manifest.precision, "task": task}
    row["mb"] = sum(f["bytes"] for f in embedder.manifest.files.values()) / 1e6
    row.update(language_scores(Vectors(WithTask(embedder, task)), sets))
    if not no_speed:
        texts = [s for lang in LANGUAGES for s in sets[lang].sentences1[:256]]
        row["sent_per_s"] = speed(WithTask(embedder, task), texts)
    print(label, json.dumps({k: v for k, v in row.items() if k != "xling"}), file=sys.stderr)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", action="append", default=None, help="LABEL=NAME_OR_DIR[@TASK]; repeatable")
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--out", default=None, help="results file stem (default: languages[_dev])")
    args = parser.parse_args()

    sets = load_sets(args.split)
    started = time.time()
    rows = [evaluate(*parse_model(spec), sets, args.threads, args.no_speed) for spec in args.model or DEFAULT_MODELS]
    stem = args.out or ("languages" if args.split == "test" else "languages_dev")
    (RESULTS / f"{stem}.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    report(rows, args, stem, time.time() - started)
    plot(rows, stem)


def uses_default(specs: list[str] | None) -> bool:
    """Whether a row ran embed()'s default model (a spec with no model named), so the header names it."""
    return any(parse_model(spec)[1] is None for spec in specs or DEFAULT_MODELS)


def report(rows: list[dict], args, stem: str, seconds: float) -> None:
    from embedlite.runtimes.cpu import int8_kernels

    split = args.split
    lines = [
        f"# Multilingual: STS-B in {len(LANGUAGES) + 1} languages and cross-lingual retrieval ({split} split)",
        "",
        f"`python benchmarks/bench_languages.py --threads {args.threads}"
        + "".join(f" --model '{m}'" for m in args.model or ())
        + (f" --split {split}" if split != "test" else "")
        + f"` on {int8_kernels()}, {args.threads} threads; {seconds / 60:.0f} min in all."
        + (f" embedlite default: {default_model_label()}." if uses_default(args.model) else ""),
        "",
        "STS: Spearman of cosine vs gold on stsb-multi-mt's "
        + ("test (de, es, fr, ja, zh; DeepL translations) and the English STS-B test" if split == "test" else "dev")
        + ". Cross-lingual: each English sentence ranks all of one language's sentences (and the reverse); "
        "accuracy@1 = its translation first. Mean over the five languages and both directions.",
        "",
        "| model | task | MB | " + " | ".join(f"STS {lang}" for lang in ("en", *LANGUAGES)) + " | STS mean (5) | "
        "x-ling acc@1 | x-ling nDCG@10 | sent/s |",
        "|---|---|---:|" + "---:|" * (len(LANGUAGES) + 1) + "---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} ({r['precision']}) | {r['task'] or '-'} | {r['mb']:.0f} | "
            + " | ".join(f"{r['sts'][lang]:.4f}" for lang in ("en", *LANGUAGES))
            + f" | {r['sts_mean']:.4f} | {r['xling_accuracy@1']:.4f} | {r['xling_ndcg@10']:.4f} | "
            + (f"{r['sent_per_s']:.1f}" if "sent_per_s" in r else "-")
            + " |"
        )
    lines += ["", "Cross-lingual accuracy@1 by direction (pairs: sentences with one translation):", ""]
    directions = list(rows[0]["xling"])
    lines.append("| model | " + " | ".join(directions) + " |")
    lines.append("|---|" + "---:|" * len(directions))
    for r in rows:
        lines.append(f"| {r['model']} | " + " | ".join(f"{r['xling'][d]['accuracy@1']:.3f}" for d in directions) + " |")
    lines.append("")
    lines.append(
        "pairs per language: " + ", ".join(f"{lang} {rows[0]['xling'][f'en→{lang}']['pairs']}" for lang in LANGUAGES)
    )
    write_markdown(f"{stem}.md", lines)


def plot(rows: list[dict], stem: str) -> None:
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    languages = ("en", *LANGUAGES)
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        x = np.arange(len(languages)) + i * width
        left.bar(x, [r["sts"][lang] for lang in languages], width, label=r["model"])
        right.bar(i, r["xling_accuracy@1"], 0.6, label=r["model"])
    left.set_xticks(np.arange(len(languages)) + width * (len(rows) - 1) / 2, languages)
    left.set_ylabel("STS Spearman")
    left.set_ylim(0.4, 0.95)
    left.legend(fontsize=7)
    right.set_xticks(range(len(rows)), [r["model"] for r in rows], rotation=15, fontsize=7)
    right.set_ylabel("cross-lingual accuracy@1 (mean)")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{stem}.png", dpi=110)


if __name__ == "__main__":
    main()
