"""The server's settings, fixed at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

STORE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class ServeConfig:
    """What `embedlite serve` was started with; the CLI holds the defaults."""

    model: str | None
    device: str
    stores: tuple[tuple[str, Path], ...]  # (name, path): names fixed here, no request names a path
    host: str
    port: int
    api_key: str | None
    max_batch: int  # texts per batch, its calls spread over the workers
    max_queue: int  # texts admitted and not yet answered; beyond it, 429
    workers: int | None  # model sessions running a batch's calls side by side; None: one per core (at most 4)
    timeout: float  # seconds a request may wait for the model or its store
    max_body_bytes: int
    batch_window: float  # seconds the runner waits for more texts when it has fewer than max_batch
    # Connections: a slow or idle client holds a socket (a file descriptor) and nothing more, and not for long.
    keep_alive: float = 5.0  # seconds an idle connection stays open between requests
    read_timeout: float = 30.0  # seconds a request's headers, then its body, may take to arrive (then 408/close)
    max_connections: int = 1000  # open connections; idle ones are closed first to make room, then 503
    shutdown_grace: float = 10.0  # seconds SIGTERM waits for stores to close (then exit 1 without them)

    def __post_init__(self):
        for name in ("max_batch", "max_queue", "workers", "max_body_bytes", "max_connections"):
            value = getattr(self, name)
            if value is None and name == "workers":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535, got {self.port}")
        if self.timeout <= 0 or self.batch_window < 0:
            raise ValueError("timeout must be positive and the batch window not negative")
        for name in ("keep_alive", "read_timeout", "shutdown_grace"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {getattr(self, name)!r}")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("the API key is empty")


def parse_stores(specs: tuple[str, ...] | list[str]) -> tuple[tuple[str, Path], ...]:
    """`notes.db` -> ("notes", notes.db); `name=path` -> (name, path). Names must be unique."""
    stores: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not STORE_NAME.match(name):
            name, path = Path(spec).stem, spec
        if not STORE_NAME.match(name):
            raise ValueError(
                f"--store {spec!r}: the name {name!r} may use only letters, digits, '_' and '-' (give one as name=path)"
            )
        if name in stores:
            raise ValueError(f"--store {spec!r}: the name {name!r} is already taken by {stores[name]}")
        stores[name] = Path(path).expanduser()
    return tuple(stores.items())
