"""Teacher embeddings: computed once by a sentence-transformers teacher and cached, or read from a .npy."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from embedlite.errors import EmbedliteError


def teacher_embeddings(texts: list[str], teacher: Path | None = None, precomputed: Path | None = None,
                       cache_dir: Path | None = None) -> np.ndarray:
    """float32 (len(texts), dim), L2-normalised."""
    if precomputed is not None:
        vectors = np.load(precomputed)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise EmbedliteError(f"{precomputed} holds shape {vectors.shape}; expected one row per text "
                                 f"({len(texts)} texts)")
    else:
        from embedlite.models import home

        key = hashlib.sha256("\n".join([str(Path(teacher).resolve()), *texts]).encode()).hexdigest()[:16]
        cache = Path(cache_dir or home() / "teacher-cache") / f"{key}.npy"
        if cache.is_file():
            vectors = np.load(cache)
        else:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(teacher), device="cpu")
            vectors = model.encode(texts, batch_size=64, show_progress_bar=True, convert_to_numpy=True)
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, vectors)
    if not np.isfinite(vectors).all():
        raise EmbedliteError("teacher embeddings hold NaN or inf")
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
