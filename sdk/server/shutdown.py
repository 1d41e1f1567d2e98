"""Closing the stores and the batcher at shut-down, within a bounded grace: a store thread stuck in a call (a lock
held by another process, a slow disk) must not keep the server from exiting."""

from __future__ import annotations

import asyncio
import os
import sys

from .batcher import Batcher
from .stores import ServedStore


async def close_within(grace: float, stores: dict[str, ServedStore], batcher: Batcher) -> list[str]:
    """Close every store, then the batcher, within `grace` seconds in all (at least 1 s for the batcher); what did
    not close (its thread is still in a call: the caller must exit without waiting for it)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    closing = {name: asyncio.ensure_future(store.close()) for name, store in stores.items()}
    done: set = set()
    if closing:
        done, pending = await asyncio.wait(closing.values(), timeout=grace)
        for task in pending:
            task.cancel()  # a close queued behind the stuck call never starts
    stuck = []
    for name, task in closing.items():
        if task not in done:
            stuck.append(f"store {name!r}")
        elif task.exception() is not None:  # e.g. its index could not be saved: the message says what it means
            print(f"embedlite serve: closing store {name!r}: {task.exception()}", file=sys.stderr, flush=True)
    try:  # the model calls running finish, within what is left of the grace
        await asyncio.wait_for(batcher.close(), max(1.0, grace - (loop.time() - started)))
    except asyncio.TimeoutError:
        stuck.append("the model (a call still running)")
    return stuck


async def close_or_exit(grace: float, stores: dict[str, ServedStore], batcher: Batcher) -> None:
    """close_within(); if something is stuck, say so and exit with status 1 now: its thread would keep the interpreter
    from exiting (it waits for every thread), and uvicorn re-raises SIGTERM once the app has shut down."""
    stuck = await close_within(grace, stores, batcher)
    if stuck:
        print(
            f"embedlite serve: {', '.join(stuck)} did not close within {grace:g} s (--shutdown-grace); exiting "
            "without waiting. Committed writes are safe in the database.",
            file=sys.stderr,
            flush=True,
        )
        os._exit(1)
