"""OpenAI-compatible routes: POST /v1/embeddings, GET /v1/models, and GET /health."""

from __future__ import annotations

import base64
import json
import logging

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from embedlite.embedder import Embedder

from .access_log import count_texts
from .batcher import Batcher
from .protocol import ApiError, client_errors, read_json

log = logging.getLogger("embedlite.server")
FORMATS = ("float", "base64")
RENDER_IN_THREAD = 1 << 16  # floats; larger responses are serialised off the event loop
ALIASES = ["*"]  # what /v1/models says: the one served model answers any model name
_logged_names: set[str] = set()  # the names already logged as answered by the served model
MAX_LOGGED_NAMES = 64  # a client that sends a new name each time cannot grow the set (nor the log) without bound


def _texts(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, list) and value and all(isinstance(v, (int, list)) for v in value):
        raise ApiError(
            400,
            "input: token arrays are not supported, send text (LangChain's OpenAIEmbeddings: "
            "set check_embedding_ctx_length=False)",
            param="input",
        )
    if value == []:
        raise ApiError(400, "input: an empty list; send a string or a list of strings", param="input")
    raise ApiError(400, "input must be a string or a list of strings", param="input")


def _payload(vectors: np.ndarray, tokens: list[int], encoding: str, model: str) -> dict:
    if encoding == "base64":
        data = [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors]
    else:
        data = vectors.tolist()
    return {
        "object": "list",
        "model": model,
        "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(data)],
        "usage": {"prompt_tokens": sum(tokens), "total_tokens": sum(tokens)},
    }


def served_model(embedder: Embedder, requested) -> str:
    """The served model's name, whatever model name the client sent: the server serves one model, and clients send
    their own default (OpenAI's "text-embedding-3-small", LangChain's "text-embedding-ada-002", ...) unless told.
    Each other name is logged once, so a user sees which vectors a client gets."""
    name = embedder.manifest.name
    if requested is not None and not isinstance(requested, str):
        raise ApiError(400, f"model must be a string, got {type(requested).__name__}", param="model")
    if requested and requested not in (name, embedder.manifest.source_model) and requested not in _logged_names:
        if len(_logged_names) < MAX_LOGGED_NAMES:
            _logged_names.add(requested)
            log.info("model %r requested: answered by %r, the model this server serves", requested, name)
    return name


def checked_dim(embedder: Embedder, dim) -> int:
    try:
        return embedder.check_dim(dim)
    except ValueError as exc:
        raise ApiError(400, str(exc), param="dimensions") from None


async def create_embeddings(request: Request) -> Response:
    embedder: Embedder = request.app.state.embedder
    batcher: Batcher = request.app.state.batcher
    body = await read_json(request)
    texts = _texts(body.get("input"))
    count_texts(request, texts)
    name = served_model(embedder, body.get("model"))
    dim = checked_dim(embedder, body.get("dimensions"))
    encoding = body.get("encoding_format") or "float"
    if encoding not in FORMATS:
        raise ApiError(
            400, f"encoding_format {encoding!r}: choose one of {', '.join(FORMATS)}", param="encoding_format"
        )
    task = body.get("task")  # embedlite's extension: a prompt name from the model's manifest
    if task is not None and not isinstance(task, str):
        raise ApiError(400, "task must be a string", param="task")
    with client_errors():
        full, tokens = await batcher.embed(texts, embedder.prompt(task))
    vectors = embedder.truncate(full, dim)
    if vectors.size <= RENDER_IN_THREAD:
        return JSONResponse(_payload(vectors, tokens, encoding, name))
    content = await run_in_threadpool(lambda: json.dumps(_payload(vectors, tokens, encoding, name)).encode())
    return Response(content, media_type="application/json")


async def list_models(request: Request) -> JSONResponse:
    embedder: Embedder = request.app.state.embedder
    m = embedder.manifest
    created = int((embedder.path / "manifest.json").stat().st_mtime)
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {
                    "id": m.name,
                    "object": "model",
                    "created": created,
                    "owned_by": "embedlite",
                    "aliases": ALIASES,
                    "dimensions": list(embedder.dims),
                    "max_input_tokens": m.max_seq_length,
                    "tasks": list(embedder.tasks),
                }
            ],
        }
    )


async def health(request: Request) -> JSONResponse:
    """Answered on the event loop without the model, so it answers while the model is busy."""
    batcher: Batcher = request.app.state.batcher
    return JSONResponse(
        {
            "status": "ok",
            "model": request.app.state.embedder.manifest.name,
            "queued_texts": batcher.pending,
            "max_queue": batcher.max_queue,
        }
    )


ROUTES = [
    Route("/v1/embeddings", create_embeddings, methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
]
