"""The Starlette application: routes, guards, error shapes, and the start-up/shut-down of batcher and stores."""

from __future__ import annotations

import contextlib
import ipaddress

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from embedlite.embedder import Embedder

from . import embeddings, ollama, stores
from .access_log import AccessLog
from .batcher import Batcher
from .config import ServeConfig
from .guards import ApiKeyGuard, BodyLimit, HostGuard
from .protocol import ApiError, api_error, http_error, server_error
from .shutdown import close_or_exit

LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"]  # as Host headers write them


def bracketed(host: str) -> str:
    """The host as URLs and Host headers write it: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(
    config: ServeConfig, embedder: Embedder, batcher: Batcher, served_stores: dict[str, stores.ServedStore]
) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        batcher.start()
        yield
        # uvicorn has let in-flight requests finish before this runs; a store that does not close ends the process
        await close_or_exit(config.shutdown_grace, served_stores, batcher)

    middleware = [Middleware(AccessLog)]
    if is_loopback(config.host):  # a web page that rebinds its DNS name to 127.0.0.1 is refused
        allowed = [*LOOPBACK_NAMES, bracketed(config.host)]
        middleware.append(Middleware(HostGuard, allowed=allowed))
    middleware += [
        Middleware(ApiKeyGuard, api_key=config.api_key),
        Middleware(BodyLimit, max_bytes=config.max_body_bytes),
    ]
    app = Starlette(
        routes=embeddings.ROUTES + ollama.ROUTES + stores.ROUTES,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: server_error},
    )
    app.state.embedder = embedder
    app.state.batcher = batcher
    app.state.stores = served_stores
    return app
