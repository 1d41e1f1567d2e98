"""LlamaIndex: EmbedliteEmbedding, a llama-index-core BaseEmbedding that embeds in process (pip install
'embedlite[llamaindex]').

    from llama_index.core import Settings
    from embedlite.integrations.llamaindex import EmbedliteEmbedding
    Settings.embed_model = EmbedliteEmbedding()   # the shipped model; or a name/path, dim=256 to truncate
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr

from embedlite.embedder import Embedder

from ._shared import LockedEmbedder


class EmbedliteEmbedding(BaseEmbedding):
    """Texts (nodes, documents) embed with the model's document prompt, queries with its query prompt; models
    without prompts embed both alike.

    model: an Embedder, or what Embedder takes (None: the shipped default model). dim: a Matryoshka dim to truncate
    to (None: the model's full width). embed_batch_size: texts LlamaIndex hands over at once; embedlite groups them
    by length into runtime calls of batch_size. The async methods run on a worker thread."""

    dim: int | None = Field(default=None, description="The dim of the vectors (a Matryoshka dim of the model).")
    _model: LockedEmbedder = PrivateAttr()

    def __init__(
        self,
        model: Embedder | str | Path | None = None,
        *,
        dim: int | None = None,
        device: str = "auto",
        batch_size: int = 32,
        embed_batch_size: int = 256,
        **kwargs: Any,
    ):
        locked = LockedEmbedder(model, dim, device, batch_size)
        super().__init__(model_name=locked.embedder.manifest.name, embed_batch_size=embed_batch_size, **kwargs)
        self.dim = locked.dim
        self._model = locked

    @classmethod
    def class_name(cls) -> str:
        return "EmbedliteEmbedding"

    @property
    def embedder(self) -> Embedder:
        return self._model.embedder

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._model.query(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._model.documents([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._model.documents(texts)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._model.query, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await asyncio.to_thread(self._model.documents, [text]))[0]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._model.documents, texts)
