"""The request log: one line per request (method, path, status, texts, ms) at info, never the texts themselves."""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("embedlite.server.access")


def count_texts(request: Request, texts: object) -> None:
    """Tell the request log how many texts this request embeds (it never sees the texts); not a list: none."""
    request.state.texts = len(texts) if isinstance(texts, list) else 0


class AccessLog:
    """Outermost middleware, so refused requests (401, 413, a bad Host) are logged too. A route says how many texts
    it embeds in request.state.texts; the log reads that count, never the body."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = scope.setdefault("state", {})  # the dict request.state reads and writes
        status = 500  # what the client gets when the app raises before it answers
        logged = False

        def write_line() -> None:
            nonlocal logged
            logged = True
            # the path without its query string, which could carry text
            log.info(
                "%s %s %d texts=%s %.1f ms",
                scope["method"],
                scope["path"],
                status,
                state.get("texts", "-"),
                (time.perf_counter() - start) * 1000,
            )

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                write_line()  # before the last bytes go out: a client that has its answer finds the line
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if not logged:
                write_line()
