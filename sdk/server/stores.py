"""Store endpoints: each --store is opened once at start-up under a fixed name; requests name a store, never a path.

Each store runs its calls one at a time on its own thread (a VectorStore is one SQLite connection); texts it embeds
go through the server's batcher, so they share runtime calls, the queue limit and the timeout with everything else.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from embedlite.embedder import Embedder, check_texts
from embedlite.store import VectorStore

from .access_log import count_texts
from .batcher import Batcher, Overloaded
from .priority import lower_this_thread
from .protocol import ApiError, check_fields, client_errors, read_json, store_error

WRITE_FIELDS = ("ids", "texts", "vectors", "metadata")
SEARCH_FIELDS = ("query", "k", "mode", "filter", "exact")


class BatchedEmbedder:
    """A VectorStore's embedder in the server (embedlite.protocols.StoreEmbedder): called from a store's thread, it
    embeds through the batcher, with the Embedder's own prompts, at the Embedder's dim."""

    def __init__(self, embedder: Embedder, batcher: Batcher):
        self.manifest, self.dim = embedder.manifest, embedder.dim
        self._embedder, self._batcher = embedder, batcher

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._through_batcher(check_texts(texts), self._embedder.query_prompt)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._through_batcher(check_texts(texts), self._embedder.document_prompt)

    def _through_batcher(self, texts: list[str], prompt: str) -> np.ndarray:
        assert self._batcher.loop is not None
        call = self._batcher.embed(texts, prompt)
        full = asyncio.run_coroutine_threadsafe(call, self._batcher.loop).result()[0]
        return self._embedder.truncate(full, self.dim)


class ServedStore:
    """A VectorStore and the one thread its calls run on, with a bound on calls waiting."""

    def __init__(self, name: str, path: Path, embedder: BatchedEmbedder, max_waiting: int, timeout: float):
        self.name = name
        self.store = VectorStore(path, embedder=embedder)
        self._thread = ThreadPoolExecutor(
            1, thread_name_prefix=f"embedlite-store-{name}", initializer=lower_this_thread
        )
        self._waiting = 0
        self._max_waiting, self._timeout = max_waiting, timeout

    async def call(self, fn, *args, **kwargs):
        if self._waiting >= self._max_waiting:
            raise Overloaded(f"{self._waiting} calls wait for store {self.name!r}, the limit is {self._max_waiting}", 1)
        self._waiting += 1
        try:  # on timeout a call that has not started is cancelled; one that has finishes on its own
            return await asyncio.wait_for(asyncio.wrap_future(self._thread.submit(fn, *args, **kwargs)), self._timeout)
        except (sqlite3.Error, OverflowError) as exc:
            raise store_error(exc, self.name, self.store.path) from None
        finally:
            self._waiting -= 1

    def info(self) -> dict:
        s = self.store
        return {
            "name": self.name,
            "object": "store",
            "count": s.count(),
            "dim": s.dim,
            "metric": s.metric,
            "quantization": s.quantization,
            "model": (s.model or {}).get("name"),
        }

    async def close(self) -> None:
        await asyncio.wrap_future(self._thread.submit(self.store.close))
        self._thread.shutdown()


def _store(request: Request) -> ServedStore:
    stores: dict[str, ServedStore] = request.app.state.stores
    name = request.path_params["name"]
    if name not in stores:
        have = ", ".join(stores) or "none"
        raise ApiError(404, f"no store named {name!r}; this server has: {have}", code="store_not_found")
    return stores[name]


def _ids(body: dict) -> Sequence[str]:
    """The ids as sent: the store checks them, a missing or malformed one too, and says what is wrong."""
    return cast("Sequence[str]", body.get("ids"))


async def list_stores(request: Request) -> JSONResponse:
    stores: dict[str, ServedStore] = request.app.state.stores
    with client_errors():
        return JSONResponse({"object": "list", "data": [await s.call(s.info) for s in stores.values()]})


async def store_info(request: Request) -> JSONResponse:
    served = _store(request)
    with client_errors():
        return JSONResponse(await served.call(served.info))


async def _write(request: Request, upsert: bool) -> JSONResponse:
    served = _store(request)
    body = await read_json(request)
    check_fields(body, WRITE_FIELDS)
    count_texts(request, body.get("texts") if body.get("vectors") is None else [])  # embedded only without vectors
    store = served.store
    write = store.upsert if upsert else store.add

    def run() -> dict:
        ids = _ids(body)
        written = write(ids, vectors=body.get("vectors"), texts=body.get("texts"), metadata=body.get("metadata"))
        # an add retried after a 503 (which may have landed) skips what is stored as sent: already_stored
        reply = {"written": written, "count": store.count()}
        return reply if upsert else {**reply, "already_stored": len(ids) - written}

    with client_errors():
        return JSONResponse(await served.call(run))


async def add(request: Request) -> JSONResponse:
    return await _write(request, upsert=False)


async def upsert(request: Request) -> JSONResponse:
    return await _write(request, upsert=True)


async def delete(request: Request) -> JSONResponse:
    served = _store(request)
    body = await read_json(request)
    check_fields(body, ("ids",))
    store = served.store

    def run() -> dict:
        return {"deleted": store.delete(_ids(body)), "count": store.count()}

    with client_errors():
        return JSONResponse(await served.call(run))


async def get(request: Request) -> JSONResponse:
    served = _store(request)
    body = await read_json(request)
    check_fields(body, ("ids",))
    with client_errors():
        records = await served.call(served.store.get, _ids(body))
    return JSONResponse(
        {"data": [None if r is None else {"id": r.id, "text": r.text, "metadata": r.metadata} for r in records]}
    )


async def search(request: Request) -> JSONResponse:
    served = _store(request)
    body = await read_json(request)
    check_fields(body, SEARCH_FIELDS)
    query, exact = body.get("query"), body.get("exact", False)
    count_texts(request, [query] if isinstance(query, str) and body.get("mode") != "keyword" else [])
    if not isinstance(query, (str, list)):
        raise ApiError(400, "query must be a text or a vector (a list of numbers)", param="query")
    if not isinstance(exact, bool):
        raise ApiError(400, f"exact must be true or false, got {exact!r}", param="exact")
    with client_errors():
        hits = await served.call(
            served.store.search,
            query,
            k=body.get("k", 10),
            filter=body.get("filter"),
            mode=body.get("mode", "vector"),
            exact=exact,
        )
    return JSONResponse(
        {"data": [{"id": h.id, "score": h.score, "text": h.text, "metadata": h.metadata} for h in hits]}
    )


ROUTES = [
    Route("/v1/stores", list_stores, methods=["GET"]),
    Route("/v1/stores/{name}", store_info, methods=["GET"]),
    Route("/v1/stores/{name}/add", add, methods=["POST"]),
    Route("/v1/stores/{name}/upsert", upsert, methods=["POST"]),
    Route("/v1/stores/{name}/delete", delete, methods=["POST"]),
    Route("/v1/stores/{name}/get", get, methods=["POST"]),
    Route("/v1/stores/{name}/search", search, methods=["POST"]),
]
