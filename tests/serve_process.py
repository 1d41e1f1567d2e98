"""`embedlite serve` in a subprocess on 127.0.0.1 (a free port), and plain HTTP requests to it, for the tests."""

from __future__ import annotations

import http.client
import itertools
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

CLI = "from embedlite.cli import main; main()"
_numbers = itertools.count()


class ServeProcess:
    def __init__(self, tmp: Path, *args: str, env: dict | None = None):
        self.log = tmp / f"serve-{next(_numbers)}.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", CLI, "serve", "--port", "0", *args],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
            )
        deadline = time.monotonic() + 120
        while not (found := re.search(r" on http://127\.0\.0\.1:(\d+)", self.log.read_text())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"the server did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        self.port = int(found.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def request(
        self, method: str, path: str, body=None, key: str | None = None, headers: dict | None = None
    ) -> tuple[int, dict, dict]:
        """(status, headers, the JSON reply or {"text": ...}); body: a dict (sent as JSON) or bytes."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        sent = {"Content-Type": "application/json"} if body is not None else {}
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        sent.update(headers or {})
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            payload = response.read()
            try:
                reply = json.loads(payload)
            except ValueError:
                reply = {"text": payload.decode()}
            return response.status, dict(response.getheaders()), reply
        finally:
            conn.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)
