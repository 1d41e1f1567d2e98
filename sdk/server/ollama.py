"""Ollama-compatible routes, so Ollama's clients (the `ollama` package, LangChain's OllamaEmbeddings) work unchanged:
POST /api/embed, the older POST /api/embeddings, and GET /api/tags (which LangChain reads to check a model name).

Errors answer in Ollama's shape {"error": "message"}, which its clients show as the message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from embedlite.embedder import Embedder

from .access_log import count_texts
from .batcher import Batcher
from .embeddings import checked_dim, served_model
from .protocol import ApiError, client_errors, read_json

Handler = Callable[[Request], Awaitable[Response]]


def _ollama_errors(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    return wrapped


def _inputs(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise ApiError(400, "input must be a string or a non-empty list of strings")


async def _embed(request: Request, texts: list[str], dim, truncate: bool) -> tuple[list, list[int]]:
    embedder: Embedder = request.app.state.embedder
    batcher: Batcher = request.app.state.batcher
    count_texts(request, texts)
    dim = checked_dim(embedder, dim)
    with client_errors():
        if not truncate:  # as Ollama does, refuse inputs over the context length rather than cut them
            _, cut = await run_in_threadpool(embedder.tokenize, texts, embedder.prompt(None))
            if cut:
                raise ApiError(
                    400,
                    f"{cut} of {len(texts)} inputs are longer than the model's "
                    f"{embedder.manifest.max_seq_length} tokens, and truncate is false",
                )
        full, tokens = await batcher.embed(texts, embedder.prompt(None))
    return embedder.truncate(full, dim).tolist(), tokens


@_ollama_errors
async def embed(request: Request) -> Response:
    """{"model", "input": str | [str], "truncate"?, "dimensions"?, "options"?, "keep_alive"?} -> {"model",
    "embeddings", "total_duration", "load_duration", "prompt_eval_count"}; options and keep_alive (sampling and
    memory settings of a generating model) do not apply and are ignored."""
    start = time.perf_counter_ns()
    body = await read_json(request)
    name = served_model(request.app.state.embedder, body.get("model"))
    truncate = body.get("truncate", True)
    if not isinstance(truncate, bool):
        raise ApiError(400, "truncate must be true or false")
    vectors, tokens = await _embed(request, _inputs(body.get("input")), body.get("dimensions"), truncate)
    return JSONResponse(
        {
            "model": name,
            "embeddings": vectors,
            "total_duration": time.perf_counter_ns() - start,
            "load_duration": 0,
            "prompt_eval_count": sum(tokens),
        }
    )


@_ollama_errors
async def embeddings(request: Request) -> Response:
    """The older route: {"model", "prompt"} -> {"embedding"}."""
    body = await read_json(request)
    served_model(request.app.state.embedder, body.get("model"))
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise ApiError(400, "prompt must be a string")
    vectors, _ = await _embed(request, [prompt], None, True)
    return JSONResponse({"embedding": vectors[0]})


async def tags(request: Request) -> JSONResponse:
    """The served model, listed as Ollama lists its local models."""
    embedder: Embedder = request.app.state.embedder
    m, manifest = embedder.manifest, embedder.path / "manifest.json"
    modified = datetime.fromtimestamp(manifest.stat().st_mtime, timezone.utc).isoformat()
    size = sum(int(f.get("bytes", 0)) for f in m.files.values())
    return JSONResponse(
        {
            "models": [
                {
                    "name": m.name,
                    "model": m.name,
                    "modified_at": modified,
                    "size": size,
                    "digest": "",
                    "details": {
                        "format": m.format,
                        "family": m.architecture,
                        "families": [m.architecture],
                        "parameter_size": "",
                        "quantization_level": m.precision,
                    },
                }
            ]
        }
    )


ROUTES = [
    Route("/api/embed", embed, methods=["POST"]),
    Route("/api/embeddings", embeddings, methods=["POST"]),
    Route("/api/tags", tags, methods=["GET"]),
]
