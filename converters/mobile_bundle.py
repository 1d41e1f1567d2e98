"""`embedlite export --target android|ios`: parity.json beside a TFLite artifact, so the Kotlin and Swift cores
can prove they tokenise, prompt, embed, truncate and rank exactly as the Python runtime does."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

QUERIES = 20
TRUNCATED_DIM = 128
PROMPTED = 16  # texts embedded as queries and as (titled) documents
# Appended to the parity texts: what a hand-written tokenizer gets wrong first.
EDGE_TEXTS = [
    "embedding " * 300,
    "a" * 150 + " word",
    "Café déjà vu — naïve façade, Ærøskøbing",
    "東京は日本の首都です。",
    "ΣΊΣΥΦΟΣ İstanbul ÅNGSTRÖM",
    "emoji 😀 and 👍🏽 signs",
    "[MASK] is special, [CLS] too",
    "tab\there\nnew line\r\n",
    "control\u0000\u200bchars\ufeff and \u00a0nbsp",
    "don't re-use 3.14 $5 #tag @you",
    "unknownwordxyzqqq",
    "UPPER lower MiXeD",
    "«quotes» “curly” ‘single’ – dash … ellipsis",
    "e\u0301 a\u0308 n\u0303 combining ○\u20dd marks",
    "runs  of   spaces\t\tand\n\n\nlines \u2581 \u2581\u2581",
    "bell\u0007 escape\u001b delete\u007f \U0001f469\u200d\U0001f469\u200d\U0001f467 family",
    "<bos> <eos> <pad> <start_of_turn>user <mask> [multimodal] <table> text",
    "東京😀ж" * 750,
    "",
    "   ",
]  # blank ones last: the embedded texts stay a prefix of the list; the 750 x 4 characters fill any max length


def write_parity(artifact: Path, texts: list[str]) -> Path:
    """Texts -> token ids (all) -> embeddings (every text), a Matryoshka-truncated copy, queries and titled
    documents with the model's prompts, and the VectorStore's exact top-10 for float32 and int8 storage (plus how
    it orders equal scores after upserts and deletes), all as the Python runtime produces them."""
    from embedlite.embedder import Embedder, with_prompt
    from embedlite.runtimes.tokenizer import TextTokenizer

    embedder = Embedder(artifact, device="cpu")
    tokenizer = TextTokenizer(artifact / "tokenizer.json", embedder.manifest.max_seq_length)
    texts = list(texts) + [t for t in EDGE_TEXTS if t not in texts]
    ids, _ = tokenizer.encode(texts)
    head = [t for t in texts if t.strip()]  # embeddings[i] belongs to texts[i]; the blank texts come last
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the edge texts longer than the model's max length are cut on purpose
        full = embedder.embed(head)
    dim = min(TRUNCATED_DIM, embedder.dim)
    truncated = embedder.embed(head[:16], dim=dim)
    prompted = head[:PROMPTED]
    titles = [None if i % 2 else f"Note {i}" for i in range(len(prompted))]
    parity = {
        "model": embedder.manifest.name,
        "max_seq_length": embedder.manifest.max_seq_length,
        "texts": texts,
        "ids": ids,
        "embeddings": [_floats(v) for v in full],
        "blank_embeddings": [_floats(v) for v in embedder.embed(texts[len(head) :])],
        "truncated": {"dim": dim, "embeddings": [_floats(v) for v in truncated]},
        "queries": {
            "count": len(prompted),
            "ids": tokenizer.encode([with_prompt(embedder.query_prompt, t) for t in prompted])[0],
            "embeddings": [_floats(v) for v in embedder.embed_query(prompted)],
        },
        "documents": {
            "count": len(prompted),
            "titles": titles,
            "ids": tokenizer.encode(
                [with_prompt(embedder.document_prompt, t, title) for t, title in zip(prompted, titles)]
            )[0],
            "embeddings": [_floats(v) for v in embedder.embed_documents(prompted, titles=titles)],
        },
        "searches": _searches(full),
        "store_ties": _store_ties(full),
    }
    path = artifact / "parity.json"
    path.write_text(json.dumps(parity, ensure_ascii=False), encoding="utf-8")
    return path


def _searches(full: np.ndarray) -> list[dict]:
    from embedlite.store import VectorStore

    searches = []
    with tempfile.TemporaryDirectory() as tmp:
        for quantization in ("float32", "int8"):
            with VectorStore(Path(tmp) / f"{quantization}.db", quantization=quantization) as store:
                store.add([str(i) for i in range(len(full))], full)
                for q in range(min(QUERIES, len(full))):
                    # a blend of two stored vectors: ranks are not trivial, and no two are near-tied by design
                    query = 0.7 * full[q] + 0.3 * full[len(full) - 1 - q]
                    hits = store.search(query, k=10)
                    searches.append(
                        {"quantization": quantization, "query": _floats(query), "top10": [int(h.id) for h in hits]}
                    )
    return searches


def _store_ties(full: np.ndarray) -> list[dict]:
    """Equal scores rank the older record first; an upsert keeps a record's place, a delete and put moves it last."""
    from embedlite.store import VectorStore

    same, other = full[0], full[1]
    ops = [
        ("put", "a", same),
        ("put", "b", same),
        ("put", "c", same),
        ("put", "d", other),
        ("put", "a", same),
        ("delete", "b", None),
        ("put", "b", same),
    ]
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for quantization in ("float32", "int8"):
            with VectorStore(Path(tmp) / f"ties-{quantization}.db", quantization=quantization) as store:
                for op, key, vector in ops:
                    if op == "put":
                        store.upsert([key], vector[None])
                    else:
                        store.delete([key])
                top = [h.id for h in store.search(same, k=10)]
            cases.append(
                {
                    "quantization": quantization,
                    "query": _floats(same),
                    "top10": top,
                    "ops": [
                        {"op": op, "id": key, **({"vector": _floats(v)} if v is not None else {})} for op, key, v in ops
                    ],
                }
            )
    return cases


def _floats(vector: np.ndarray) -> list[float]:
    return [float(x) for x in np.asarray(vector, dtype=np.float32)]  # float32 values: exact round trip
