"""embedlite against sentence-transformers on the same model and real sentences."""

import numpy as np
import pytest


def test_embeddings_match_sentence_transformers(embedder, st_minilm, sts_slice):
    texts = sts_slice.sentences1 + sts_slice.sentences2
    ours = embedder.embed(texts)
    ref = st_minilm.encode(texts, convert_to_numpy=True)
    cos = np.sum(ours * ref, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.min() >= 0.9999


def test_sts_spearman_matches_st_evaluator(embedder, st_minilm, sts_slice):
    from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator

    from embedlite.evaluation import sts_spearman

    ours = sts_spearman(embedder, sts_slice)
    evaluator = EmbeddingSimilarityEvaluator(
        sts_slice.sentences1, sts_slice.sentences2, list(sts_slice.scores / 5.0), main_similarity="cosine"
    )
    assert abs(ours - evaluator(st_minilm)["spearman_cosine"]) < 0.001
    assert 0.7 < ours < 0.95


def test_retrieval_metrics_match_st_evaluator(embedder, st_minilm, data_dir):
    from sentence_transformers.evaluation import InformationRetrievalEvaluator

    from embedlite.evaluation import RetrievalData, load_retrieval, retrieval_scores

    full = load_retrieval(data_dir / "stsb-retrieval")
    qids = sorted(full.queries)[:80]
    qrels = {q: full.qrels[q] for q in qids}
    keep = {d for q in qids for d in qrels[q]} | set(sorted(full.corpus)[:700])
    data = RetrievalData({d: full.corpus[d] for d in keep}, {q: full.queries[q] for q in qids}, qrels)
    ours = retrieval_scores(embedder, data)
    evaluator = InformationRetrievalEvaluator(
        data.queries,
        data.corpus,
        {q: set(r) for q, r in qrels.items()},
        ndcg_at_k=[10],
        accuracy_at_k=[1],
        precision_recall_at_k=[100],
        mrr_at_k=[10],
        map_at_k=[100],
        show_progress_bar=False,
        batch_size=32,
    )
    theirs = evaluator(st_minilm)
    assert abs(ours["ndcg@10"] - theirs["cosine_ndcg@10"]) < 0.001
    assert abs(ours["recall@100"] - theirs["cosine_recall@100"]) < 0.001
    assert ours["ndcg@10"] > 0.8


def test_rank_metrics_by_hand():
    from embedlite.evaluation import query_metrics, rank_metrics

    scores = np.array([[0.9, 0.8, 0.1], [0.1, 0.2, 0.3]])
    args = (scores, ["q1", "q2"], ["a", "b", "c"], {"q1": {"b": 1}, "q2": {"c": 1, "a": 1}})
    out = rank_metrics(*args, ndcg_k=2, recall_k=1)
    # q1: b at rank 2 -> 1/log2(3); ideal 1. q2: c at rank 1 hit, a at rank 3 outside k=2: 1/(1+1/log2 3).
    q1 = 1 / np.log2(3)
    q2 = 1 / (1 + 1 / np.log2(3))
    assert out["ndcg@2"] == pytest.approx((q1 + q2) / 2)
    assert out["recall@1"] == pytest.approx((0 + 0.5) / 2)
    per_query = query_metrics(*args, ndcg_k=2, recall_k=1)  # what bench_paired resamples
    assert per_query["ndcg@2"] == pytest.approx([q1, q2]) and per_query["recall@1"] == pytest.approx([0, 0.5])


def test_spearman_with_ties_matches_scipy():
    from scipy.stats import spearmanr

    from embedlite.evaluation import spearman

    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 200).astype(float)
    b = a + rng.normal(size=200)
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
