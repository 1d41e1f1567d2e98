"""Dynamic batching: the texts of concurrent requests are merged into batches, run on the workers' model sessions.

Requests wait in one FIFO queue bounded in texts (a full queue is refused with a retry time, never grown). The runner
takes up to max_batch texts, waiting a short window for more while it has fewer; it tokenises them on a worker thread,
groups them by run length (a runtime call holds texts of one run length, see Embedder.run_length) and spreads those
calls over the workers, each a thread with its own session (runtimes that are not thread-safe are never shared). Small
calls run faster side by side on one-thread sessions than one after another on a session that splits each matrix product
over the cores. onnxruntime and the tokenizer release the GIL, so the event loop keeps answering.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from embedlite.embedder import Embedder

from .priority import lower_this_thread

MAX_INPUTS = 2048  # texts per request, as in OpenAI's API


class Overloaded(Exception):
    """A queue is full; the message says which, and retry_after when to try again (seconds)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class TooManyTexts(Exception):
    """A request that could never fit in the queue."""


class _Job:
    """One request's texts; the runner takes them in slices, in order."""

    __slots__ = ("texts", "prompt", "future", "taken", "done", "vectors", "tokens")

    def __init__(self, texts: list[str], prompt: str, future: asyncio.Future):
        self.texts, self.prompt, self.future = texts, prompt, future
        self.taken = 0  # texts taken into a batch
        self.done = 0  # texts embedded
        self.vectors: np.ndarray | None = None
        self.tokens = [0] * len(texts)


class Batcher:
    """embed(texts) from any request; a runner task merges what is queued into batches run on the workers."""

    def __init__(self, embedders: list[Embedder], max_batch: int, max_queue: int, window: float, timeout: float):
        self.embedders, self.max_batch, self.max_queue = embedders, max_batch, max_queue
        self.window, self.timeout = window, timeout
        self.max_request = min(MAX_INPUTS, max_queue)
        self.width = embedders[0].dims[0]
        self.pending = 0  # texts admitted and not yet answered (queued or running)
        self._queue: deque[_Job] = deque()
        self._queued = 0  # texts not yet taken into a batch
        self._rate = 0.0  # texts per second, a moving average
        self._executor = ThreadPoolExecutor(
            len(embedders), thread_name_prefix="embedlite-model", initializer=lower_this_thread
        )
        self._runner: asyncio.Task | None = None
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._runner = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stop taking batches and wait for the model calls running (off the event loop, so a caller can bound
        the wait: a batch of max-length texts can run for a long time on a busy machine)."""
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)

    async def embed(self, texts: list[str], prompt: str = "") -> tuple[np.ndarray, list[int]]:
        """Full-width vectors and token counts of prompt + each text; Overloaded when the queue is full,
        asyncio.TimeoutError after `timeout` seconds, ValueError for a text the tokenizer refuses."""
        if len(texts) > self.max_request:
            raise TooManyTexts(f"{len(texts)} texts in one request; the limit is {self.max_request}")
        if self.pending + len(texts) > self.max_queue:
            raise Overloaded(f"{self.pending} texts queued, the limit is {self.max_queue}", self.retry_after())
        if not texts:
            return np.empty((0, self.width), dtype=np.float32), []
        assert self.loop is not None, "Batcher.start() runs at server start-up"
        job = _Job(texts, prompt, self.loop.create_future())
        self.pending += len(texts)
        self._queued += len(texts)
        self._queue.append(job)
        self._arrived.set()
        if self._queued >= self.max_batch:
            self._full.set()
        # On timeout wait_for cancels the job's future; the runner then skips what is left of it.
        return await asyncio.wait_for(job.future, self.timeout)

    def retry_after(self) -> int:
        """Seconds until the queue has drained, at the measured speed (1 before any is measured)."""
        if not self._rate:
            return 1
        return min(60, max(1, math.ceil(self.pending / self._rate)))

    async def _run(self) -> None:
        while True:
            while not self._queued:
                self._arrived.clear()
                await self._arrived.wait()
            if self._queued < self.max_batch and self.window:
                self._full.clear()
                try:
                    await asyncio.wait_for(self._full.wait(), self.window)
                except asyncio.TimeoutError:
                    pass
            batch = self._take()
            if not batch:
                continue
            started = time.perf_counter()
            try:
                tokens, vectors = await self._embed_batch(batch)
            except Exception as exc:  # the runtime failed: these requests get the error, the server goes on
                for job, start, stop in batch:
                    self.pending -= stop - start
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            count = sum(stop - start for _, start, stop in batch)
            rate = count / max(time.perf_counter() - started, 1e-6)
            self._rate = rate if not self._rate else 0.8 * self._rate + 0.2 * rate
            self._deliver(batch, tokens, vectors)

    def _take(self) -> list[tuple[_Job, int, int]]:
        """Up to max_batch texts from the head of the queue, as (job, start, stop) slices."""
        batch, room = [], self.max_batch
        while self._queue and room:
            job = self._queue[0]
            left = len(job.texts) - job.taken
            if job.future.done():  # timed out, cancelled or failed: drop the rest of it
                self._queue.popleft()
                self._queued -= left
                self.pending -= left
                continue
            n = min(left, room)
            batch.append((job, job.taken, job.taken + n))
            job.taken += n
            self._queued -= n
            room -= n
            if job.taken == len(job.texts):
                self._queue.popleft()
        return batch

    def _deliver(self, batch, tokens, vectors: np.ndarray) -> None:
        offset = 0
        for (job, start, stop), ids in zip(batch, tokens):
            self.pending -= stop - start
            if isinstance(ids, Exception):
                if not job.future.done():
                    job.future.set_exception(ids)
                continue
            rows = vectors[offset : offset + len(ids)]
            offset += len(ids)
            if job.future.done():
                continue
            if job.vectors is None:
                job.vectors = np.empty((len(job.texts), self.width), dtype=np.float32)
            job.vectors[start:stop] = rows
            job.tokens[start:stop] = [len(row) for row in ids]
            job.done += stop - start
            if job.done == len(job.texts):
                job.future.set_result((job.vectors, job.tokens))

    async def _embed_batch(self, batch) -> tuple[list, np.ndarray]:
        """Token ids of each slice (or the ValueError of a text the tokenizer refuses) and the vectors of them all,
        the calls spread over the workers."""
        loop = asyncio.get_running_loop()
        first = self.embedders[0]
        tokens = await loop.run_in_executor(self._executor, _tokenize, first, batch)
        ids = [row for part in tokens if not isinstance(part, Exception) for row in part]
        vectors = np.empty((len(ids), self.width), dtype=np.float32)
        busy = [
            (embedder, rows)
            for embedder, rows in zip(self.embedders, _share(ids, len(self.embedders), self.embedders[0].run_length))
            if rows
        ]
        results = await asyncio.gather(
            *(
                loop.run_in_executor(self._executor, _embed_rows, embedder, [ids[i] for i in rows], self.width)
                for embedder, rows in busy
            )
        )
        for (_, rows), part in zip(busy, results):
            vectors[rows] = part
        return tokens, vectors


def _tokenize(embedder: Embedder, batch) -> list:
    """In a worker thread: token ids of each slice, or the ValueError of a text the tokenizer refuses (it fails its
    own request only)."""
    tokens: list = []
    for job, start, stop in batch:
        try:
            tokens.append(embedder.tokenize(job.texts[start:stop], job.prompt)[0])
        except ValueError as exc:
            tokens.append(exc)
    return tokens


def _share(ids: list[list[int]], workers: int, run_length: Callable[[int], int]) -> list[list[int]]:
    """Row indices for each worker: texts of one run length stay in one call unless there are at least two per
    worker, and calls go to the least loaded worker, largest first (cost: rows x length)."""
    by_length: dict[int, list[int]] = {}
    for i, row in enumerate(ids):
        by_length.setdefault(run_length(len(row)), []).append(i)
    calls = []
    for length, rows in by_length.items():
        size = math.ceil(len(rows) / workers) if len(rows) >= 2 * workers else len(rows)
        calls += [(length * len(part), part) for part in (rows[s : s + size] for s in range(0, len(rows), size))]
    shares: list[list[int]] = [[] for _ in range(workers)]
    load = [0] * workers
    for cost, rows in sorted(calls, key=lambda call: -call[0]):
        least = load.index(min(load))
        shares[least] += rows
        load[least] += cost
    return shares


def _embed_rows(embedder: Embedder, ids: list[list[int]], width: int) -> np.ndarray:
    """In a worker thread: one call per run length. A lone text of its length is not run twice for batch-1 bits
    (pair_lone): a batch of concurrent requests has a dozen lengths, so that would cost a quarter of the throughput,
    for ulps."""
    return embedder.embed_tokens(ids, width, batch_size=len(ids), pair_lone=False)
