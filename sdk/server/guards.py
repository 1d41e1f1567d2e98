"""ASGI guards in front of every route: the Host (on loopback), the API key, then the body size (checked before
anything parses it)."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .protocol import ApiError

OPEN_PATHS = ("/health",)  # answered without the key: liveness checks carry no secrets


class HostGuard:
    """Only requests whose Host header names one of `allowed` (a web page that rebinds its DNS name to 127.0.0.1 is
    refused), answered in the API's error shape (Starlette's TrustedHostMiddleware answers in plain text)."""

    def __init__(self, app: ASGIApp, allowed: list[str]):
        self.app = app
        self.allowed = {name.lower() for name in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = Headers(scope=scope).get("host", "")
            # the name without the port: [::1]:8000 -> [::1], localhost:8000 -> localhost
            name = host[: host.find("]") + 1] if host.startswith("[") else host.split(":")[0]
            if name.lower() not in self.allowed:
                error = ApiError(
                    400,
                    f"the Host header {host[:100]!r} is not one this server answers to "
                    f"({', '.join(sorted(self.allowed))})",
                    code="invalid_host",
                )
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ApiKeyGuard:
    """With a key, every route but /health needs 'Authorization: Bearer KEY' (compared in constant time)."""

    def __init__(self, app: ASGIApp, api_key: str | None):
        self.app = app
        self.key = api_key.encode("utf-8") if api_key else None  # a client sends a non-ASCII key as UTF-8

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is not None and scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            # the header's bytes as sent: Headers() decodes them as latin-1, and a UTF-8 key then never matched
            raw = next((v for k, v in scope["headers"] if k.lower() == b"authorization"), b"")
            scheme, _, token = raw.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.key):
                error = ApiError(
                    401,
                    "missing or wrong API key: send 'Authorization: Bearer KEY'",
                    code="invalid_api_key",
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuses a body over max_bytes with 413: at once from Content-Length, or while a chunked body streams in.

    (Starlette's own limit answers in plain text without the limit; this answers like every other error.)"""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> ApiError:
        return ApiError(
            413, f"the request body is larger than the limit of {self.max_bytes} bytes", code="request_too_large"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._too_large().response()(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self._too_large()  # answered by the app's ApiError handler; nothing has parsed the body
            return message

        await self.app(scope, limited_receive, send)
