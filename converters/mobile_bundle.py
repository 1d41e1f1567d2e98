"""`embedlite export --target android|ios`: parity.json beside a TFLite artifact, so the Kotlin and Swift cores
can prove they tokenise, embed, truncate and rank exactly as the Python runtime does."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

QUERIES = 20
TRUNCATED_DIM = 128
# Appended to the parity texts (token ids only): what a hand-written tokenizer gets wrong first.
EDGE_TEXTS = [
    "embedding " * 300, "a" * 150 + " word", "Café déjà vu — naïve façade, Ærøskøbing",
    "東京は日本の首都です。", "ΣΊΣΥΦΟΣ İstanbul ÅNGSTRÖM", "emoji 😀 and 👍🏽 signs", "[MASK] is special, [CLS] too",
    "tab\there\nnew line\r\n", "control\u0000\u200bchars\ufeff and \u00a0nbsp", "don't re-use 3.14 $5 #tag @you",
    "unknownwordxyzqqq", "UPPER lower MiXeD", "«quotes» “curly” ‘single’ – dash … ellipsis", "", "   ",
]  # blank ones last: the embedded texts stay a prefix of the list


def write_parity(artifact: Path, texts: list[str]) -> Path:
    """Texts -> token ids (all) -> embeddings (every non-blank text), a Matryoshka-truncated copy, and the
    VectorStore's exact top-10 for float32 and int8 storage, all as the Python runtime produces them."""
    from embedlite.embedder import Embedder
    from embedlite.runtimes.tokenizer import TextTokenizer
    from embedlite.store import VectorStore

    embedder = Embedder(artifact, device="cpu")
    tokenizer = TextTokenizer(artifact / "tokenizer.json", embedder.manifest.max_seq_length)
    texts = list(texts) + [t for t in EDGE_TEXTS if t not in texts]
    ids, _ = tokenizer.encode(texts)
    head = [t for t in texts if t.strip()]  # embeddings[i] belongs to texts[i]
    full = embedder.embed(head)
    dim = min(TRUNCATED_DIM, embedder.dim)
    truncated = embedder.embed(head[:16], dim=dim)
    searches = []
    with tempfile.TemporaryDirectory() as tmp:
        for quantization in ("float32", "int8"):
            with VectorStore(Path(tmp) / f"{quantization}.db", quantization=quantization) as store:
                store.add([str(i) for i in range(len(head))], full)
                for q in range(min(QUERIES, len(head))):
                    # a blend of two stored vectors: ranks are not trivial, and no two are near-tied by design
                    query = 0.7 * full[q] + 0.3 * full[len(head) - 1 - q]
                    hits = store.search(query, k=10)
                    searches.append({"quantization": quantization, "query": _floats(query),
                                     "top10": [int(h.id) for h in hits]})
    parity = {
        "model": embedder.manifest.name, "max_seq_length": embedder.manifest.max_seq_length,
        "texts": texts, "ids": ids, "embeddings": [_floats(v) for v in full],
        "truncated": {"dim": dim, "embeddings": [_floats(v) for v in truncated]},
        "searches": searches,
    }
    path = artifact / "parity.json"
    path.write_text(json.dumps(parity, ensure_ascii=False), encoding="utf-8")
    return path


def _floats(vector: np.ndarray) -> list[float]:
    return [float(x) for x in np.asarray(vector, dtype=np.float32)]  # float32 values: exact round trip
