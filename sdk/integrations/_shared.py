"""What the adapters share: one Embedder, called by one thread at a time."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from embedlite.embedder import Embedder


class LockedEmbedder:
    """An Embedder (given, or loaded from `model`) and a default dim; async callers run it on worker threads, and
    the lock keeps them off one session at once (LiteRT's interpreters are not thread-safe; ONNX Runtime spreads a
    call over the cores already)."""

    def __init__(self, model: Embedder | str | Path | None, dim: int | None, device: str, batch_size: int):
        self.embedder = model if isinstance(model, Embedder) else Embedder(model, device=device)
        self.dim = self.embedder.check_dim(dim)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def documents(self, texts: Sequence[str]) -> list[list[float]]:
        if isinstance(texts, str):  # else it would embed as one text and answer one vector, not a list of them
            raise TypeError("embed a list of documents (a single string is one query: use the query method)")
        with self._lock:
            return self.embedder.embed_documents(texts, dim=self.dim, batch_size=self.batch_size).tolist()

    def query(self, text: str) -> list[float]:
        if not isinstance(text, str):
            raise TypeError(f"a query is one string, got {type(text).__name__}")
        with self._lock:
            return self.embedder.embed_query(text, dim=self.dim, batch_size=self.batch_size).tolist()
