"""Connections that cannot be held by a client that sends nothing, or too slowly: uvicorn's httptools protocol
with deadlines and a connection limit that closes idle connections first.

uvicorn closes an idle keep-alive connection, but nothing else: a connection that never sends a byte, a request
whose headers or body trickle in, stayed open forever, and enough of them reached the file limit, after which
every new client was refused. Here:
- a new connection must start a request within keep_alive seconds;
- a request must arrive whole (headers and body) within read_timeout seconds of its first byte: one whose body is
  late gets 408 and is closed, one whose headers are late is closed (no request to answer yet);
- beyond max_connections, the longest-idle connection with no request being answered is closed to make room; when
  every connection is busy, the new one's request gets 503 with Retry-After, and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .protocol import ApiError

try:
    import resource
except ImportError:  # Windows: no open-file limit to raise
    resource = None  # type: ignore[assignment]

FILES_IN_RESERVE = 128  # descriptors kept for the model, the stores and their WAL files, beyond the connections


def _response(status: int, reason: str, message: str, code: str) -> bytes:
    """A whole HTTP response in the server's OpenAI-like error shape, that closes the connection (written by the
    protocol itself, while the app waits for the body)."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    body = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpTools(HttpToolsProtocol):
    """HttpToolsProtocol with the deadlines and the limit above; protocol_class() sets the three settings."""

    keep_alive: float = 5.0
    read_timeout: float = 30.0
    max_connections: int = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_headers = False  # a request has begun and its headers have not all arrived
        self._idle_since = time.monotonic()

    # -- deadlines ---------------------------------------------------------------------------------
    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _answering(self) -> bool:
        """Whether the app is working on a request of this connection (a response not yet complete)."""
        return self.cycle is not None and not self.cycle.response_complete

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if not self._reading_headers and self._answering() and not self.cycle.response_started:
            message = f"the request body did not arrive within {self.read_timeout:g} s (the server's --read-timeout)"
            self.transport.write(_response(408, "Request Timeout", message, "request_timeout"))
        self.transport.close()  # the app, if it waits for the body, sees the client gone

    # -- uvicorn's callbacks -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.keep_alive)  # a connection that never sends a request is idle from the start
        if len(self.connections) > self.max_connections and not self._make_room():
            # every connection is busy: this one's request is read, then answered 503 and the connection closed
            # (closing it unread could reset it before the client reads the answer)
            error = ApiError(
                503,
                f"the server holds {self.max_connections} connections, its limit "
                "(--max-connections); retry in a second",
                code="too_many_connections",
                headers={"Retry-After": "1", "Connection": "close"},
            )
            self.app = error.response()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_headers = True
        self._arm(self.read_timeout)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()  # the whole request is here; answering it is bounded by the server's --timeout
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._idle_since = time.monotonic()
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._arm(self.keep_alive)  # uvicorn's own keep-alive timer takes whole seconds only

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- the limit -----------------------------------------------------------------------------------
    def _make_room(self) -> bool:
        """Close the longest-idle other connection that has no request being answered; whether one was found.
        (Linear in the connections, and only run at the limit.)"""
        idle = [
            c
            for c in self.connections
            if c is not self and isinstance(c, GuardedHttpTools) and not c._answering() and not c.transport.is_closing()
        ]
        if not idle:
            return False
        victim = min(idle, key=lambda c: c._idle_since)
        victim.transport.close()
        victim.connections.discard(victim)  # counted out now: connection_lost follows on the next loop turn
        return True


def protocol_class(keep_alive: float, read_timeout: float, max_connections: int) -> type[GuardedHttpTools]:
    """GuardedHttpTools with these settings, for uvicorn.Config(http=...)."""
    return type(
        "ServerHttpProtocol",
        (GuardedHttpTools,),
        {"keep_alive": keep_alive, "read_timeout": read_timeout, "max_connections": max_connections},
    )


def allow_connections(wanted: int) -> int:
    """Raise this process's open-file limit (soft, up to the hard limit) to hold `wanted` connections; the number
    it can hold, with a warning on stderr when that is fewer."""
    if resource is None:
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + FILES_IN_RESERVE
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):
            pass
    if soft != resource.RLIM_INFINITY and soft < need:
        fits = max(1, soft - FILES_IN_RESERVE)
        print(
            f"embedlite serve: warning: the open-file limit is {soft}; serving at most {fits} connections "
            f"(not {wanted})",
            file=sys.stderr,
        )
        return fits
    return wanted
