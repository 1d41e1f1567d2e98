"""JSON in and out: request bodies, and errors in OpenAI's shape {"error": {message, type, param, code}}."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from embedlite.errors import EmbedliteError

from .batcher import Overloaded, TooManyTexts

log = logging.getLogger("embedlite.server")
ERROR_TYPES = {401: "authentication_error", 429: "rate_limit_error"}


class ApiError(Exception):
    """An error answered to the client, never a traceback."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None):
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
        raise ApiError(415, f"send the body as JSON with 'Content-Type: application/json' "
                            f"(got {content_type or 'no content type'!r})")
    body = await request.body()
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
        raise ApiError(400, f"unknown field {unknown[0]!r}; this endpoint takes: {', '.join(allowed)}",
                       param=unknown[0])


@contextlib.contextmanager
def client_errors() -> Iterator[None]:
    """Bad input (the SDK's own messages), a full queue and timeouts as API errors."""
    try:
        yield
    except (ValueError, TypeError, EmbedliteError) as exc:
        raise ApiError(400, str(exc)) from None
    except TooManyTexts as exc:
        raise ApiError(413, str(exc), code="too_many_inputs") from None
    except Overloaded as exc:
        raise ApiError(429, f"the server is busy ({exc}); retry after {exc.retry_after} s", code="rate_limit_exceeded",
                       headers={"Retry-After": str(exc.retry_after)}) from None
    except asyncio.TimeoutError:
        raise ApiError(503, "timed out waiting for the model or the store", code="timeout",
                       headers={"Retry-After": "1"}) from None


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (404 no such route, 405 wrong method) in the same shape."""
    assert isinstance(exc, HTTPException)
    message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
    return ApiError(exc.status_code, message.get(exc.status_code, str(exc.detail)),
                    headers=dict(exc.headers or {})).response()


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return ApiError(500, f"internal error: {type(exc).__name__}").response()
