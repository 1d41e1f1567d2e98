"""STS (Spearman of cosine vs gold) and BEIR-format retrieval (nDCG@10, Recall@100)."""

from __future__ import annotations

import collections
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import EmbedliteError
from .protocols import TextEmbedder


@dataclass(frozen=True)
class StsData:
    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray


@dataclass(frozen=True)
class RetrievalData:
    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, float]]
    titles: dict[str, str] = field(default_factory=dict)  # document id -> title, where the corpus gives one


def load_sts(path: str | Path, limit: int | None = None) -> StsData:
    """STS Benchmark TSV (genre, file, year, id, score, sentence1, sentence2 [, extra columns]), or the CSV of
    stsb-multi-mt (sentence1, sentence2, score)."""
    path = Path(path)
    if not path.is_file():
        raise EmbedliteError(f"STS file not found: {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines and len(lines[0].split("\t")) < 7:
        return _sts_csv(path, lines, limit)
    s1, s2, scores = [], [], []
    for number, line in enumerate(lines, 1):
        cols = line.split("\t")
        if len(cols) < 7:
            raise EmbedliteError(f"{path}:{number}: expected at least 7 tab-separated columns")
        scores.append(float(cols[4]))
        s1.append(cols[5])
        s2.append(cols[6])
        if limit and len(scores) == limit:
            break
    return StsData(s1, s2, np.asarray(scores))


def _sts_csv(path: Path, lines: list[str], limit: int | None) -> StsData:
    from .files.records import sts_csv_rows

    rows = list(itertools.islice(sts_csv_rows(path, lines), limit))
    return StsData([r[0] for r in rows], [r[1] for r in rows], np.asarray([r[2] for r in rows]))


def load_retrieval(directory: str | Path, split: str = "test") -> RetrievalData:
    """A BEIR directory: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""
    directory = Path(directory)
    paths = [directory / "corpus.jsonl", directory / "queries.jsonl", directory / "qrels" / f"{split}.tsv"]
    for path in paths:
        if not path.is_file():
            raise EmbedliteError(f"{path} is missing: not a BEIR-format directory")
    corpus, titles = {}, {}
    for row in _jsonl(paths[0]):
        corpus[str(row["_id"])] = row["text"]
        if row.get("title"):
            titles[str(row["_id"])] = row["title"]
    queries = {str(row["_id"]): row["text"] for row in _jsonl(paths[1])}
    qrels: dict[str, dict[str, float]] = {}
    for line in paths[2].read_text(encoding="utf-8").splitlines()[1:]:
        qid, did, score = line.split("\t")[:3]
        if float(score) > 0:
            qrels.setdefault(qid, {})[did] = float(score)
    queries = {q: t for q, t in queries.items() if q in qrels}
    return RetrievalData(corpus, queries, qrels, titles)


def retrieval_from_sts(data: StsData, min_score: float = 4.0) -> RetrievalData:
    """A paraphrase retrieval set from STS pairs, derived as stsb-retrieval is from the test split (so a dev
    version can be made): query = sentence1 of each pair scored >= min_score, its relevant document = that
    pair's sentence2, corpus = every other sentence of the split."""
    pairs = [(a, b) for a, b, score in zip(data.sentences1, data.sentences2, data.scores) if score >= min_score]
    query_texts = list(dict.fromkeys(a for a, _ in pairs))
    asked = set(query_texts)
    doc_texts = [t for t in dict.fromkeys(data.sentences1 + data.sentences2) if t not in asked]
    doc_id = {t: f"d{i}" for i, t in enumerate(doc_texts)}
    query_id = {t: f"q{i}" for i, t in enumerate(query_texts)}
    qrels: dict[str, dict[str, float]] = {}
    for a, b in pairs:
        if b in doc_id:
            qrels.setdefault(query_id[a], {})[doc_id[b]] = 1.0
    queries = {query_id[t]: t for t in query_texts if query_id[t] in qrels}
    return RetrievalData({i: t for t, i in doc_id.items()}, queries, qrels)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def rankdata(values: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged, as scipy.stats.rankdata."""
    values = np.asarray(values)
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_vals)) + 1]
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])


def sts_spearman(embedder: TextEmbedder, data: StsData, batch_size: int = 32) -> float:
    """Spearman correlation between cosine similarity and the gold scores."""
    return spearman(sts_cosines(embedder, data, batch_size), data.scores)


def sts_cosines(embedder: TextEmbedder, data: StsData, batch_size: int = 32) -> np.ndarray:
    """The cosine similarity of each STS pair."""
    a = embedder.embed(data.sentences1, batch_size=batch_size)
    b = embedder.embed(data.sentences2, batch_size=batch_size)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def retrieval_scores(embedder: TextEmbedder, data: RetrievalData, batch_size: int = 32) -> dict[str, float]:
    """nDCG@10 and Recall@100 of cosine retrieval; queries and documents (with their titles) embedded with the
    model's query and document prompts."""
    return _averaged(retrieval_per_query(embedder, data, batch_size))


def retrieval_per_query(embedder: TextEmbedder, data: RetrievalData, batch_size: int = 32) -> dict[str, np.ndarray]:
    """retrieval_scores' metrics for each query, in the order of data.queries."""
    doc_ids = list(data.corpus)
    query_ids = list(data.queries)
    docs = embedder.embed_documents(
        [data.corpus[d] for d in doc_ids], titles=[data.titles.get(d) for d in doc_ids], batch_size=batch_size
    )
    queries = embedder.embed_query([data.queries[q] for q in query_ids], batch_size=batch_size)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return query_metrics(queries @ docs.T, query_ids, doc_ids, data.qrels)


def rank_metrics(
    scores: np.ndarray,
    query_ids: list[str],
    doc_ids: list[str],
    qrels: dict[str, dict[str, float]],
    ndcg_k: int = 10,
    recall_k: int = 100,
) -> dict[str, float]:
    """nDCG@ndcg_k and Recall@recall_k of a query x document score matrix, averaged over the queries."""
    return _averaged(query_metrics(scores, query_ids, doc_ids, qrels, ndcg_k, recall_k))


def _averaged(per_query: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: float(np.mean(values)) for name, values in per_query.items()}


def query_metrics(
    scores: np.ndarray,
    query_ids: list[str],
    doc_ids: list[str],
    qrels: dict[str, dict[str, float]],
    ndcg_k: int = 10,
    recall_k: int = 100,
) -> dict[str, np.ndarray]:
    """rank_metrics for each query."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, : max(ndcg_k, recall_k)]
    discounts = 1.0 / np.log2(np.arange(2, ndcg_k + 2))
    ndcg, recall = [], []
    for row, qid in enumerate(query_ids):
        relevant = qrels[qid]
        gains = np.array([relevant.get(doc_ids[i], 0.0) for i in top[row, :ndcg_k]])
        ideal = np.sort(np.fromiter(relevant.values(), float))[::-1][:ndcg_k]
        ndcg.append(float(gains @ discounts[: len(gains)]) / float(ideal @ discounts[: len(ideal)]))
        hits = sum(doc_ids[i] in relevant for i in top[row, :recall_k])
        recall.append(hits / len(relevant))
    return {f"ndcg@{ndcg_k}": np.array(ndcg), f"recall@{recall_k}": np.array(recall)}


def parallel_pairs(first: StsData, second: StsData) -> tuple[list[str], list[str]]:
    """(sentences, their translations) from two translations of one STS set, row for row (the same gold scores):
    each sentence once, and only the pairs in which neither side has another translation, so that every
    sentence has exactly one right answer among the other side's sentences."""
    if len(first.scores) != len(second.scores) or not np.array_equal(first.scores, second.scores):
        raise EmbedliteError("the two STS sets are not translations row for row: their gold scores differ")
    pairs = dict.fromkeys(zip(first.sentences1 + first.sentences2, second.sentences1 + second.sentences2, strict=True))
    left = collections.Counter(a for a, _ in pairs)
    right = collections.Counter(b for _, b in pairs)
    kept = [(a, b) for a, b in pairs if left[a] == 1 and right[b] == 1]
    return [a for a, _ in kept], [b for _, b in kept]


def parallel_retrieval(
    embedder: TextEmbedder, sources: list[str], targets: list[str], batch_size: int = 32, ndcg_k: int = 10
) -> dict[str, float]:
    """Translation retrieval: sources[i]'s translation is targets[i]; each source ranks every target by cosine.
    accuracy@1 (its translation ranks first) and nDCG@ndcg_k (one relevant target)."""
    a = embedder.embed(sources, batch_size=batch_size)
    b = embedder.embed(targets, batch_size=batch_size)
    scores = (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T
    ids = [str(i) for i in range(len(targets))]
    metrics = rank_metrics(scores, ids, ids, {i: {i: 1.0} for i in ids}, ndcg_k=ndcg_k, recall_k=1)
    return {"accuracy@1": metrics["recall@1"], f"ndcg@{ndcg_k}": metrics[f"ndcg@{ndcg_k}"]}
