"""Start the server: load the model, open the stores, listen, and shut down cleanly on SIGTERM or Ctrl+C."""

from __future__ import annotations

import contextlib
import math
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

from embedlite.embedder import Embedder
from embedlite.errors import EmbedliteError

from .app import bracketed, create_app, is_loopback
from .batcher import Batcher
from .config import ServeConfig
from .connections import allow_connections, protocol_class
from .priority import lower_this_thread
from .stores import BatchedEmbedder, ServedStore

DEFAULT_WORKERS = 4  # sessions cost memory each, and a batch of 32 texts has only a dozen lengths to spread


def serve(config: ServeConfig) -> None:
    """Serve until SIGTERM/SIGINT; in-flight requests finish and stores close before it returns."""
    import uvicorn

    sock = _bind(config.host, config.port)  # first: a taken port fails before the model loads
    with ThreadPoolExecutor(1, initializer=lower_this_thread) as loader:  # sessions' thread pools inherit its nice
        embedders = loader.submit(_load_workers, config).result()
    batcher = Batcher(embedders, config.max_batch, config.max_queue, config.batch_window, config.timeout)
    store_embedder = BatchedEmbedder(embedders[0], batcher)
    served: dict[str, ServedStore] = {}
    with contextlib.ExitStack() as on_error:
        for name, path in config.stores:
            served[name] = ServedStore(name, path, store_embedder, config.max_queue, config.timeout)
            on_error.callback(served[name].store.close)
        on_error.pop_all()
    app = create_app(config, embedders[0], batcher, served)
    sock.listen(2048)  # connections wait in the backlog until the event loop takes them
    host, port = sock.getsockname()[:2]
    m, device = embedders[0].manifest, embedders[0].device
    print(
        f"embedlite serve: {m.name} ({m.format}/{m.precision}, {device}) on http://{bracketed(host)}:{port}  "
        f"stores: {', '.join(served) or 'none'}  API key: {'required' if config.api_key else 'none'}",
        file=sys.stderr,
        flush=True,
    )
    if not is_loopback(config.host) and not config.api_key:
        print("embedlite serve: warning: listening beyond this machine without an API key", file=sys.stderr)
    max_connections = allow_connections(config.max_connections)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_keep_alive=math.ceil(config.keep_alive),  # a backstop: the protocol keeps the exact time
            http=protocol_class(config.keep_alive, config.read_timeout, max_connections),
            timeout_graceful_shutdown=int(config.timeout) + 5,
        )
    )  # requests end by their own timeout before this
    server.run(sockets=[sock])


def _load_workers(config: ServeConfig) -> list[Embedder]:
    """One Embedder per worker, the cores split between them (6 cores, 4 workers: 2, 2, 1, 1 threads). By default a
    worker per core (at most DEFAULT_WORKERS) on a CPU, and one on an accelerator, which runs a call on its own."""
    cores = os.cpu_count() or 1
    workers = config.workers or min(cores, DEFAULT_WORKERS)

    def threads(worker: int) -> int | None:
        return None if workers == 1 else max(1, cores // workers + (worker < cores % workers))

    first = Embedder(config.model, device=config.device, threads=threads(0))
    if config.workers is None and first.device != "cpu":
        workers = 1
    return [first] + [Embedder(config.model, device=config.device, threads=threads(i)) for i in range(1, workers)]


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise EmbedliteError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock
