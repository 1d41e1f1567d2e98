"""EmbeddingGemma-300m on its real weights: embedlite's artifacts beside sentence-transformers (torch) on the same
weights and prompts, every model measured by the same code in one run.

    python benchmarks/bench_embeddinggemma.py --artifacts DIR [--threads 2] [--precisions fp32,int8-accurate,int4]
        [--multilingual-pairs N] [--amazon-reviews N] [--work DIR]

DIR holds onnx-<precision>/ artifacts of embeddinggemma-300m (`embedlite export embeddinggemma-300m DIR
--precisions ... --dims 768,512,256,128`); the weights come from embedlite.models.sources (1.15 GB, fetched once).
For each model: cosine to sentence-transformers (min/mean) on the STS-B test sentences and on texts of 512 and
2048 tokens; STS-B test Spearman (`STS` prompt); stsb-retrieval nDCG@10 (query / document prompts); amazon
accuracy (`Classification` prompt, logistic regression, re-split train -> test); STS Spearman on the
stsb-multi-mt tests (de/es/fr/ja/zh); all at 768 and 128 dims; file size; sentences/s at batch 32 and batch-1 p50
at 16, 128 and 512 tokens, and the latency of one 2048-token text, on --threads threads; peak RSS (each model runs
in its own process). Vectors are cached in --work, so an interrupted run resumes. On 2 cores the whole sets take
hours per model: --multilingual-pairs and --amazon-reviews size the slow parts, and the results say what ran.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_common import DATA, RESULTS, pyplot, write_markdown

LANGUAGES = ("de", "es", "fr", "ja", "zh")
DOMAINS = ("books", "dvd", "electronics", "kitchen")
DIMS = (768, 128)
SPEED_TOKENS = (16, 128, 512)
ST = "sentence-transformers"
# published on MTEB for google/embeddinggemma-300m (the model card's figures) where a set here has one
MTEB = {"STS-B test (STS prompt)": 0.8816}


# -- the text sets --------------------------------------------------------------------------------------------
def text_sets(args) -> dict:
    from embedlite.evaluation import load_retrieval, load_sts

    sts = load_sts(DATA / "stsb" / "sts-test.csv")
    multi = {
        lang: load_sts(DATA / "stsb-multi-mt" / f"stsb-{lang}-test.csv", limit=args.multilingual_pairs)
        for lang in LANGUAGES
    }
    reviews = {}
    for domain in DOMAINS if args.amazon_reviews != 0 else ():  # 0: amazon not run

        def read(part):
            rows = [json.loads(line) for line in (DATA / "amazon-reviews" / domain / f"{part}.jsonl").open()]
            rows = rows[: args.amazon_reviews] if args.amazon_reviews else rows
            return [r["text"] for r in rows], [r["label"] for r in rows]

        reviews[domain] = (*read("train"), *read("test"))
    return {"sts": sts, "retrieval": load_retrieval(DATA / "stsb-retrieval"), "multi": multi, "amazon": reviews}


def long_texts(tokenizer, tokens: int, count: int) -> list[str]:
    """`count` texts of STS-B test sentences joined until each is `tokens` long with the document prompt."""
    from embedlite.evaluation import load_sts

    sts = load_sts(DATA / "stsb" / "sts-test.csv")
    pool = sts.sentences1 + sts.sentences2
    out, start = [], 0
    for _ in range(count):
        words: list[str] = []
        while len(tokenizer("title: none | text: " + " ".join(words))["input_ids"]) < tokens:
            words += pool[start % len(pool)].split()
            start += 1
        while len(tokenizer("title: none | text: " + " ".join(words))["input_ids"]) > tokens:
            words.pop()
        out.append(" ".join(words))
    return out


def exact_length(tokenizer, tokens: int, count: int) -> list[str]:
    """`count` different texts of exactly `tokens` tokens (no prompt), for the speed table."""
    from embedlite.evaluation import load_sts

    sts = load_sts(DATA / "stsb" / "sts-test.csv")
    words = " ".join(sts.sentences1 + sts.sentences2).split()
    out, at = [], 0
    for _ in range(count):
        take = tokens
        while len(tokenizer(" ".join(words[at : at + take]))["input_ids"]) > tokens:
            take -= 1
        while len(tokenizer(" ".join(words[at : at + take + 1]))["input_ids"]) <= tokens:
            take += 1
        out.append(" ".join(words[at : at + take]))
        at += take
    return out


# -- one model, in its own process ------------------------------------------------------------------------------
class Model:
    """Texts in, 768-dim vectors out with a prompt, for embedlite artifacts and sentence-transformers alike; each
    (prompt, text) embedded once and cached on disk."""

    def __init__(self, name: str, artifact: Path | None, source: Path, threads: int, cache: Path):
        self.name, self.cache = name, cache
        cache.mkdir(parents=True, exist_ok=True)
        if artifact is None:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(threads)
            self.st = SentenceTransformer(str(source), device="cpu")
            self.embedder = None
        else:
            from embedlite import Embedder

            self.st, self.embedder = None, Embedder(artifact, device="cpu", threads=threads)

    def raw(self, prompt: str, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if self.st is not None:
            return self.st.encode(texts, prompt=prompt, batch_size=batch_size, convert_to_numpy=True)
        return self.embedder.embed_tokens(
            self.embedder.tokenize(texts, prompt)[0],
            batch_size=batch_size,
            show_progress=False,
            pair_lone=len(texts) > 1,
        )  # as embed_query([q])

    def vectors(self, key: str, prompt: str, texts: list[str]) -> np.ndarray:
        path = self.cache / f"{key}.npy"
        unique = list(dict.fromkeys(texts))
        if path.is_file():
            out = np.load(path)
        else:
            out = self.raw(prompt, unique)
            np.save(path, out)  # written whole: a run cut off mid-set computes that set again
        where = {t: i for i, t in enumerate(unique)}
        return out[[where[t] for t in texts]]


def _unit(v: np.ndarray, dim: int) -> np.ndarray:
    v = np.asarray(v[:, :dim], dtype=np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def quality(model: Model, sets: dict, prompts: dict) -> tuple[dict, dict]:
    """Scores at each of DIMS, and the raw vectors the cosines to sentence-transformers are taken on."""
    from sklearn.linear_model import LogisticRegression

    from embedlite.evaluation import query_metrics, spearman

    sts, ret = sets["sts"], sets["retrieval"]
    sts_texts = list(dict.fromkeys(sts.sentences1 + sts.sentences2))
    sts_v = dict(zip(sts_texts, model.vectors("sts", prompts["STS"], sts_texts)))
    doc_ids, query_ids = list(ret.corpus), list(ret.queries)
    docs = model.vectors("docs", prompts["document"], [ret.corpus[d] for d in doc_ids])
    queries = model.vectors("queries", prompts["query"], [ret.queries[q] for q in query_ids])
    multi = {}
    for lang, data in sets["multi"].items():
        texts = list(dict.fromkeys(data.sentences1 + data.sentences2))
        multi[lang] = (data, dict(zip(texts, model.vectors(f"sts-{lang}", prompts["STS"], texts))))
    amazon = {}
    for domain, (train_x, train_y, test_x, test_y) in sets["amazon"].items():
        amazon[domain] = (
            model.vectors(f"amazon-{domain}-train", prompts["Classification"], train_x),
            train_y,
            model.vectors(f"amazon-{domain}-test", prompts["Classification"], test_x),
            test_y,
        )
    long = {n: model.vectors(f"long-{n}", prompts["document"], sets["long"][n]) for n in sets["long"]}
    scores = {}
    for dim in DIMS:
        a = _unit(np.stack([sts_v[t] for t in sts.sentences1]), dim)
        b = _unit(np.stack([sts_v[t] for t in sts.sentences2]), dim)
        row = {"sts": spearman(np.sum(a * b, axis=1), sts.scores)}
        metrics = query_metrics(_unit(queries, dim) @ _unit(docs, dim).T, query_ids, doc_ids, ret.qrels)
        row["ndcg@10"] = float(np.mean(metrics["ndcg@10"]))
        for lang, (data, vecs) in multi.items():
            a = _unit(np.stack([vecs[t] for t in data.sentences1]), dim)
            b = _unit(np.stack([vecs[t] for t in data.sentences2]), dim)
            row[f"sts-{lang}"] = spearman(np.sum(a * b, axis=1), data.scores)
        for domain, (train_v, train_y, test_v, test_y) in amazon.items():
            fit = LogisticRegression(max_iter=2000).fit(_unit(train_v, dim), train_y)
            row[domain] = float(np.mean(fit.predict(_unit(test_v, dim)) == np.asarray(test_y)))
        scores[dim] = row
    raw = {"sts": np.stack([sts_v[t] for t in sts_texts]), **{f"long-{n}": v for n, v in long.items()}}
    return scores, raw


def speed(model: Model, tokenizer, threads: int) -> dict:
    """sentences/s at batch 32 and batch-1 p50 (ms) at SPEED_TOKENS, and one 2048-token text (ms)."""
    out = {}
    for tokens in SPEED_TOKENS:
        count = 64 if tokens < 512 else 16
        texts = exact_length(tokenizer, tokens, count + 8)
        model.raw("", texts[:4])  # warm-up
        best = 0.0
        for _ in range(2):
            start = time.perf_counter()
            model.raw("", texts[:count], batch_size=32)
            best = max(best, count / (time.perf_counter() - start))
        single = []
        for text in texts[count : count + 8]:
            start = time.perf_counter()
            model.raw("", [text], batch_size=1)
            single.append(time.perf_counter() - start)
        out[tokens] = {"per_s": best, "p50_ms": 1000 * statistics.median(single)}
    text = exact_length(tokenizer, 2040, 1)
    model.raw("", text)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        model.raw("", text, batch_size=1)
        times.append(time.perf_counter() - start)
    out[2048] = {"p50_ms": 1000 * statistics.median(times)}
    return out


def run_one(args) -> None:
    """One model: quality and speed, written to work/<model>.json (raw vectors beside it)."""
    from transformers import AutoTokenizer

    from embedlite.models.sources import fetch

    source = fetch("embeddinggemma-300m", _sources())
    prompts = json.loads((source / "config_sentence_transformers.json").read_text())["prompts"]
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    artifact = None if args.one == ST else args.artifacts / f"onnx-{args.one}"
    model = Model(args.one, artifact, source, args.threads, args.work / "vectors" / args.one)
    sets = text_sets(args)
    sets["long"] = {512: long_texts(tokenizer, 512, 8), 2048: long_texts(tokenizer, 2048, 2)}
    started = time.perf_counter()
    scores, raw = quality(model, sets, prompts)
    seconds = time.perf_counter() - started
    np.savez(args.work / f"{args.one}-raw.npz", **raw)
    result = {
        "model": args.one,
        "scores": scores,
        "quality_seconds": seconds,
        "speed": None if args.no_speed else speed(model, tokenizer, args.threads),
        "bytes": (artifact / "model.onnx").stat().st_size
        if artifact
        else sum(p.stat().st_size for p in source.rglob("*.safetensors")),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    (args.work / f"{args.one}.json").write_text(json.dumps(result, default=float))


def _sources() -> Path:
    from embedlite.models import home

    return home() / "sources"


# -- the run ----------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--artifacts", type=Path, required=True)
    parser.add_argument("--precisions", default="fp32,int8-accurate,int4")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--multilingual-pairs", type=int, default=None, help="first N pairs of each language")
    parser.add_argument(
        "--amazon-reviews", type=int, default=None, help="first N train and N test reviews a domain (0: amazon not run)"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/embedlite-bench-gemma"))
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.one:
        return run_one(args)
    models = [ST, *args.precisions.split(",")]
    for name in models:
        if not (args.work / f"{name}.json").is_file():
            print(f"== {name}", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, __file__, "--one", name, *sys.argv[1:]], check=True)
    results = {name: json.loads((args.work / f"{name}.json").read_text()) for name in models}
    raw = {name: np.load(args.work / f"{name}-raw.npz") for name in models}
    for name in models:
        results[name]["cosine"] = {key: _cosines(raw[ST][key], raw[name][key]) for key in raw[ST].files}
    report(results, models, args)


def _cosines(a: np.ndarray, b: np.ndarray) -> dict:
    cos = np.sum(_unit(a, a.shape[1]) * _unit(b, b.shape[1]), axis=1)
    return {"min": float(cos.min()), "mean": float(cos.mean())}


def report(results: dict, models: list[str], args) -> None:
    import onnxruntime

    from embedlite.runtimes.cpu import int8_kernels

    r0 = results[models[0]]["scores"]["768"]
    columns = list(r0)
    lines = [
        "# EmbeddingGemma-300m on its real weights: embedlite's artifacts beside sentence-transformers",
        "",
        f"`python benchmarks/bench_embeddinggemma.py {' '.join(sys.argv[1:])}`",
        "",
        f"Machine: {int8_kernels()}, {args.threads} threads per model; onnxruntime "
        f"{onnxruntime.__version__}. Every model ran in its own process, one after another.",
        f"Sets: STS-B test (1379 pairs, `STS` prompt); stsb-retrieval (336 queries, 2243 documents); "
        f"stsb-multi-mt test, {args.multilingual_pairs or 'all 1379'} pairs per language (`STS` prompt); "
        + (
            "amazon: not run (--amazon-reviews 0). "
            if args.amazon_reviews == 0
            else f"amazon re-split, {args.amazon_reviews or 'all'} train and test reviews per domain "
            "(`Classification` prompt, logistic regression). "
        )
        + "MTEB publishes STS-B 0.8816 for this model.",
        "",
    ]
    for dim in ("768", "128"):
        lines += [
            f"## Quality at {dim} dims",
            "",
            "| model | " + " | ".join(columns) + " |",
            "|---" * (len(columns) + 1) + "|",
        ]
        for name in models:
            s = results[name]["scores"][dim]
            lines.append(f"| {name} | " + " | ".join(f"{s[c]:.4f}" for c in columns) + " |")
        lines.append("")
    lines += [
        "## Vectors against sentence-transformers (cosine, 768 dims)",
        "",
        "| model | MB | STS-B sentences min / mean | 512 tokens min | 2048 tokens min |",
        "|---|---|---|---|---|",
    ]
    for name in models:
        c = results[name]["cosine"]
        lines.append(
            f"| {name} | {results[name]['bytes'] / 1e6:.0f} | {c['sts']['min']:.6f} / {c['sts']['mean']:.6f} "
            f"| {c['long-512']['min']:.6f} | {c['long-2048']['min']:.6f} |"
        )
    if not args.no_speed:
        base = results[ST]["speed"]
        lines += [
            "",
            f"## Speed ({args.threads} threads)",
            "",
            "| model | "
            + " | ".join(f"{t} tok /s (x ST)" for t in SPEED_TOKENS)
            + " | "
            + " | ".join(f"{t} tok p50 ms" for t in SPEED_TOKENS)
            + " | 2048 tok ms | peak RSS MB |",
            "|---" * (2 * len(SPEED_TOKENS) + 3) + "|",
        ]
        for name in models:
            sp = results[name]["speed"]
            lines.append(
                f"| {name} | "
                + " | ".join(
                    f"{sp[str(t)]['per_s']:.1f} ({sp[str(t)]['per_s'] / base[str(t)]['per_s']:.2f}x)"
                    for t in SPEED_TOKENS
                )
                + " | "
                + " | ".join(f"{sp[str(t)]['p50_ms']:.0f}" for t in SPEED_TOKENS)
                + f" | {sp['2048']['p50_ms']:.0f} | {results[name]['peak_rss_mb']:.0f} |"
            )
    write_markdown("embeddinggemma.md", lines)
    (RESULTS / "embeddinggemma.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    keys = ["sts", "ndcg@10", *[f"sts-{lang}" for lang in LANGUAGES]]
    width = 0.8 / len(models)
    for i, name in enumerate(models):
        ax.bar(np.arange(len(keys)) + i * width, [results[name]["scores"]["768"][k] for k in keys], width, label=name)
    ax.set_xticks(np.arange(len(keys)) + 0.4 - width / 2, keys, rotation=20)
    ax.set_ylim(0.6, 1.0)
    ax.set_title("EmbeddingGemma-300m, 768 dims: sentence-transformers vs embedlite artifacts")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "embeddinggemma.png", dpi=120)


if __name__ == "__main__":
    main()
