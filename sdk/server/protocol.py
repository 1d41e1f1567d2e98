"""JSON in and out: request bodies, and errors in OpenAI's shape {"error": {message, type, param, code}}."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from embedlite.errors import EmbedliteError, ReadOnlyStoreError

from .batcher import Overloaded, TooManyTexts

log = logging.getLogger("embedlite.server")
ERROR_TYPES = {401: "authentication_error", 429: "rate_limit_error"}


class ApiError(Exception):
    """An error answered to the client, never a traceback."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers

    def response(self) -> JSONResponse:
        kind = "server_error" if self.status >= 500 else ERROR_TYPES.get(self.status, "invalid_request_error")
        body = {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


async def read_json(request: Request) -> dict:
    """The body as a JSON object; only application/json, so a web page cannot post here without CORS."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(
            415,
            f"send the body as JSON with 'Content-Type: application/json' (got {content_type or 'no content type'!r})",
        )
    try:
        body = await request.body()
    except ClientDisconnect:  # nobody reads the answer; what matters is that it is not logged as a failure
        raise ApiError(400, "the client closed the connection before sending the whole body") from None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
        raise ApiError(400, f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the body must be a JSON object, got {type(data).__name__}")
    return data


def check_fields(body: dict, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(
            400, f"unknown field {unknown[0]!r}; this endpoint takes: {', '.join(allowed)}", param=unknown[0]
        )


@contextlib.contextmanager
def client_errors() -> Iterator[None]:
    """Bad input (the SDK's own messages), a full queue and timeouts as API errors."""
    try:
        yield
    except ReadOnlyStoreError as exc:
        raise ApiError(403, str(exc), code="store_read_only") from None
    except (ValueError, TypeError, EmbedliteError) as exc:
        raise ApiError(400, str(exc)) from None
    except TooManyTexts as exc:
        raise ApiError(413, str(exc), code="too_many_inputs") from None
    except Overloaded as exc:
        raise ApiError(
            429,
            f"the server is busy ({exc}); retry after {exc.retry_after} s",
            code="rate_limit_exceeded",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    except asyncio.TimeoutError:
        raise ApiError(
            503, "timed out waiting for the model or the store", code="timeout", headers={"Retry-After": "1"}
        ) from None


def store_error(exc: sqlite3.Error | OverflowError, name: str, path: Path) -> ApiError:
    """The one place where SQLite's errors become answers: busy is temporary (503, retry), a limit is the request's
    (400, naming it), anything else is the file's (naming it, with what SQLite said), never a bare class name."""
    if isinstance(exc, OverflowError):  # the store checks its own inputs; a number beyond SQLite's 64 bits got by
        return ApiError(400, f"a number is beyond the 64-bit integers SQLite keeps: {exc}")
    text = str(exc)
    kind = getattr(exc, "sqlite_errorname", "")  # Python 3.11+; the message says the same on 3.10
    said = text.lower()
    where = f"store {name!r} ({path})"
    if kind.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in said or "is busy" in said:
        return ApiError(
            503,
            f"{where} is locked by another writer; retry in a second",
            code="store_busy",
            headers={"Retry-After": "1"},
        )
    limits = ("too many sql variables", "too many terms", "expression tree is too large", "string or blob too big")
    if kind == "SQLITE_TOOBIG" or any(limit in said for limit in limits):
        return ApiError(
            400,
            f"the request is beyond a SQLite limit: {text}; send fewer ids, filter keys or $in values",
            code="request_too_large",
        )
    if kind.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in said or "not a database" in said:
        return ApiError(
            500,
            f"{where} is damaged: {text}; restore it from a backup, or recover what it holds "
            f"with: sqlite3 {path} .recover",
            code="store_damaged",
        )
    if kind.startswith("SQLITE_FULL") or "disk is full" in said:
        return ApiError(
            507, f"{where}: the disk is full ({text}); nothing of this request was written", code="store_disk_full"
        )
    if kind.startswith("SQLITE_READONLY") or "readonly" in said:
        return ApiError(403, f"{where} cannot be written: {text}", code="store_read_only")
    log.error("store %r (%s): %s (%s)", name, path, text, kind or type(exc).__name__)
    return ApiError(500, f"{where} failed: {text}", code="store_error")


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (404 no such route, 405 wrong method) in the same shape."""
    assert isinstance(exc, HTTPException)
    message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
    return ApiError(
        exc.status_code, message.get(exc.status_code, str(exc.detail)), headers=dict(exc.headers or {})
    ).response()


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return ApiError(500, f"internal error: {type(exc).__name__}").response()
