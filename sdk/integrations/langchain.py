"""LangChain: EmbedliteEmbeddings, a langchain-core Embeddings that embeds in process (pip install
'embedlite[langchain]').

    from embedlite.integrations.langchain import EmbedliteEmbeddings
    embeddings = EmbedliteEmbeddings()            # the shipped model; or a name/path, dim=256 to truncate
    vectors = embeddings.embed_documents(["first note", "second note"])
    query = embeddings.embed_query("which note?")
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from langchain_core.embeddings import Embeddings

from embedlite.embedder import Embedder

from ._shared import LockedEmbedder


class EmbedliteEmbeddings(Embeddings):
    """Documents embed with the model's document prompt, queries with its query prompt (EmbeddingGemma's
    "task: search result | query: "; models without prompts embed both alike).

    model: an Embedder, or what Embedder takes (None: the shipped default model; a name, artifact directory or
    sentence-transformers directory). dim: a Matryoshka dim to truncate to (None: the model's full width).
    batch_size: texts per runtime call (texts are grouped by length, so nothing is padded).
    The async methods run on a worker thread, so the event loop keeps going."""

    def __init__(
        self,
        model: Embedder | str | Path | None = None,
        *,
        dim: int | None = None,
        device: str = "auto",
        batch_size: int = 32,
    ):
        self._model = LockedEmbedder(model, dim, device, batch_size)

    @property
    def embedder(self) -> Embedder:
        return self._model.embedder

    @property
    def dim(self) -> int:
        return self._model.dim

    def __repr__(self) -> str:
        return f"EmbedliteEmbeddings({self.embedder.manifest.name!r}, dim={self.dim})"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._model.documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._model.query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._model.documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await asyncio.to_thread(self._model.query, text)
