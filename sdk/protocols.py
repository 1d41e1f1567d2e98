"""The seams between embedlite's parts, as typing Protocols: what the store, evaluation, server and benchmarks
need from an embedder (Embedder is one; a cache or a remote model can be another)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .artifact import Manifest


class TextEmbedder(Protocol):
    """Texts in, float32 vectors out, with the model's query and document prompts applied."""

    manifest: Manifest
    dim: int

    @property
    def tasks(self) -> tuple[str, ...]: ...

    def embed(
        self,
        texts: str | Sequence[str],
        task: str | None = None,
        dim: int | None = None,
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> np.ndarray: ...

    def embed_query(
        self,
        texts: str | Sequence[str],
        dim: int | None = None,
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> np.ndarray: ...

    def embed_documents(
        self,
        texts: str | Sequence[str],
        titles: str | Sequence[str | None] | None = None,
        dim: int | None = None,
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> np.ndarray: ...
