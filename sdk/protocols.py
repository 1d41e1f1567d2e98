"""The seams between embedlite's parts, as typing Protocols, each what its user calls: what a VectorStore needs of
an embedder, and what evaluation needs (Embedder is both; the server's batched embedder and a benchmark's cache
are others)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .artifact import Manifest


class StoreEmbedder(Protocol):
    """What a VectorStore calls: queries and documents in, float32 vectors at `dim` out, each with the model's
    own prompt; `manifest` and `dim` are what the store records about the model."""

    manifest: Manifest
    dim: int

    def embed_query(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...


class TextEmbedder(Protocol):
    """What evaluation calls: texts in batches, plain (STS), as queries, as documents with their titles."""

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray: ...

    def embed_query(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray: ...

    def embed_documents(
        self, texts: Sequence[str], titles: Sequence[str | None] | None = None, *, batch_size: int = 32
    ) -> np.ndarray: ...
