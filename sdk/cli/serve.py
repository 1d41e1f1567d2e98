"""`serve`: embeddings and stores over HTTP."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import (
    DEVICE_OPTION,
    MODEL_OPTION,
    clean_errors,
)


@click.command()
@MODEL_OPTION
@DEVICE_OPTION
@click.option(
    "--store", "stores", multiple=True, help="Serve a vector store: notes.db (named notes) or name=path; repeatable."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port (0: any free one).")
@click.option(
    "--api-key",
    envvar="EMBEDLITE_API_KEY",
    default=None,
    help="Require 'Authorization: Bearer KEY' on every route but /health [env: EMBEDLITE_API_KEY].",
)
@click.option("--max-batch", default=32, show_default=True, help="Texts per batch of concurrent requests.")
@click.option(
    "--max-queue",
    default=1024,
    show_default=True,
    help="Texts waiting or running; requests beyond it get 429 with Retry-After.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Model sessions that run a batch's calls side by side, each on its own thread; the cores are "
    "split between them [default: one per core, at most 4; 1 on a GPU].",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds a request may wait (then 503).")
@click.option("--max-body-mb", default=16.0, show_default=True, help="Largest request body (then 413).")
@click.option(
    "--batch-window-ms",
    default=1.0,
    show_default=True,
    help="How long the batcher waits for more texts when it has fewer than --max-batch.",
)
@click.option(
    "--keep-alive", default=5.0, show_default=True, help="Seconds an idle connection stays open between requests."
)
@click.option(
    "--read-timeout",
    default=30.0,
    show_default=True,
    help="Seconds a request's headers, then its body, may take to arrive (then 408 and the connection is closed).",
)
@click.option(
    "--max-connections",
    default=1000,
    show_default=True,
    help="Open connections; at the limit idle ones are closed to make room, then new requests get 503.",
)
@click.option(
    "--shutdown-grace",
    default=10.0,
    show_default=True,
    help="Seconds SIGTERM waits for the stores to close; then the server exits with status 1.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="info: a line per request (method, path, status, texts, ms), never the texts.",
)
@clean_errors
def serve(stores, max_body_mb, batch_window_ms, log_level, **settings):
    """Serve embeddings over HTTP (OpenAI's /v1/embeddings, Ollama's /api/embed) and the stores given (needs
    embedlite[serve])."""
    import logging

    from ..errors import require

    for module in ("starlette", "uvicorn"):
        require(module, "serve", "embedlite serve")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("embedlite")  # embedlite's own lines only, not every library's
    logger.addHandler(handler)
    logger.setLevel(log_level.upper())
    from ..server.config import ServeConfig, parse_stores
    from ..server.run import serve as run_server

    parsed = parse_stores(stores)
    for name, path in parsed:  # a mistyped path would otherwise serve a new, empty store without a word
        if not path.exists():
            click.echo(
                f"embedlite serve: {path} does not exist yet: store {name!r} starts empty (check the path if you "
                "meant an existing store)",
                err=True,
            )
    if settings.get("model") is None and parsed:  # serve the model the first store was made with
        settings["model"] = _recorded_model(parsed[0][1])
    run_server(
        ServeConfig(
            stores=parsed, max_body_bytes=int(max_body_mb * 2**20), batch_window=batch_window_ms / 1000, **settings
        )
    )


def _recorded_model(db) -> str | None:
    """The known model name a store records, if it exists and records one (else None: the default)."""
    from ..models import known_names
    from ..store import VectorStore

    if not Path(db).is_file():
        return None
    with VectorStore(db, read_only=True) as store:
        name = (store.model or {}).get("name")
    return name if name in known_names() else None
