"""LangChain: EmbedliteEmbeddings, a langchain-core Embeddings that embeds in process, and EmbedliteVectorStore,
a langchain-core VectorStore over embedlite's store (pip install 'embedlite[langchain]').

    from embedlite.integrations.langchain import EmbedliteEmbeddings, EmbedliteVectorStore
    embeddings = EmbedliteEmbeddings()            # the shipped model; or a name/path, dim=256 to truncate
    vectors = embeddings.embed_documents(["first note", "second note"])
    query = embeddings.embed_query("which note?")
    notes = EmbedliteVectorStore("notes.db", embeddings)
    notes.add_texts(["first note", "second note"], ids=["a", "b"])
    notes.similarity_search("which note?", k=1)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from embedlite.embedder import Embedder
from embedlite.store import VectorStore as EmbedliteStore

from ._shared import LockedEmbedder


class EmbedliteEmbeddings(Embeddings):
    """Documents embed with the model's document prompt, queries with its query prompt (EmbeddingGemma's
    "task: search result | query: "; models without prompts embed both alike).

    model: an Embedder, or what Embedder takes (None: the shipped default model; a name, artifact directory or
    sentence-transformers directory). dim: a Matryoshka dim to truncate to (None: the model's full width).
    batch_size: texts per runtime call (texts are grouped by run length, see Embedder.run_length).
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


class EmbedliteVectorStore(VectorStore):
    """A langchain-core VectorStore over embedlite's VectorStore (one SQLite file: vectors, texts, metadata).

    store: a VectorStore or the path of its file; embedding: any LangChain Embeddings (default: EmbedliteEmbeddings
    of the shipped model), which embeds what is added (embed_documents) and searched (embed_query). Texts added
    without ids get random ones; an id added again replaces its record. `filter` takes embedlite's metadata
    filters ({"lang": "en", "year": {"$gte": 2020}}); scores are cosine similarities."""

    def __init__(self, store: EmbedliteStore | str | Path, embedding: Embeddings | None = None):
        self.store = store if isinstance(store, EmbedliteStore) else EmbedliteStore(store)
        self._embedding = embedding or EmbedliteEmbeddings()

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict] | None = None, *, ids: list[str] | None = None, **kwargs
    ) -> list[str]:
        texts = list(texts)
        ids = [str(i) for i in ids] if ids else [uuid.uuid4().hex for _ in texts]
        if len(ids) != len(texts) or (metadatas is not None and len(metadatas) != len(texts)):
            raise ValueError(f"{len(texts)} texts need as many ids and metadatas")
        if texts:
            vectors = np.asarray(self._embedding.embed_documents(texts), dtype=np.float32)
            self.store.upsert(ids, vectors, texts, metadatas)
        return ids

    def similarity_search(self, query: str, k: int = 4, filter: dict | None = None, **kwargs) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict | None = None, **kwargs
    ) -> list[tuple[Document, float]]:
        return self._search(self._embedding.embed_query(query), k, filter)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict | None = None, **kwargs
    ) -> list[Document]:
        return [doc for doc, _ in self._search(embedding, k, filter)]

    def _search(self, vector, k: int, filter: dict | None) -> list[tuple[Document, float]]:
        hits = self.store.search(np.asarray([vector], dtype=np.float32), k=k, filter=filter)
        return [(Document(page_content=h.text or "", metadata=h.metadata or {}, id=h.id), h.score) for h in hits]

    def _select_relevance_score_fn(self):
        return lambda score: max(0.0, score)  # cosine similarity; LangChain's relevance reads 0 as unrelated

    def delete(self, ids: list[str] | None = None, **kwargs) -> bool:
        if ids is None:
            raise ValueError("give the ids to delete (deleting every record is VectorStore's job, not this one's)")
        return self.store.delete(ids) > 0

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [
            Document(page_content=r.text or "", metadata=r.metadata or {}, id=r.id)
            for r in self.store.get(list(ids))
            if r is not None
        ]

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        path: str | Path | None = None,
        **kwargs,
    ) -> EmbedliteVectorStore:
        """A store at `path` (a SQLite file, created if missing) holding `texts`."""
        if path is None:
            raise ValueError("from_texts needs path=, the SQLite file the store keeps its records in")
        vector_store = cls(path, embedding)
        vector_store.add_texts(texts, metadatas, ids=ids)
        return vector_store
