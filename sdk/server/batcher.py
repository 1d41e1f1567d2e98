"""Dynamic batching: the texts of concurrent requests are merged into runtime calls made on worker threads.

Requests wait in one FIFO queue bounded in texts (a full queue is refused with a retry time, never grown). A runner
takes up to max_batch texts, waiting a short window for more while it has fewer; it tokenises and embeds them in
its thread (onnxruntime and the tokenizer release the GIL, so the event loop keeps answering), and the vectors go
back to their requests. Each runner owns one Embedder, so runtimes that are not thread-safe are never shared.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from embedlite.embedder import Embedder

MAX_INPUTS = 2048  # texts per request, as in OpenAI's API


class Overloaded(Exception):
    """A queue is full; the message says which, and retry_after when to try again (seconds)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class TooManyTexts(Exception):
    """A request that could never fit in the queue."""


class _Job:
    """One request's texts; runners take them in slices, in order."""

    __slots__ = ("texts", "prompt", "future", "taken", "done", "vectors", "tokens")

    def __init__(self, texts: list[str], prompt: str, future: asyncio.Future):
        self.texts, self.prompt, self.future = texts, prompt, future
        self.taken = 0  # texts handed to a runner
        self.done = 0  # texts embedded
        self.vectors: np.ndarray | None = None
        self.tokens = [0] * len(texts)


class Batcher:
    """embed(texts) from any request; runner tasks merge what is queued into runtime calls."""

    def __init__(self, embedders: list[Embedder], max_batch: int, max_queue: int, window: float, timeout: float):
        self.embedders, self.max_batch, self.max_queue = embedders, max_batch, max_queue
        self.window, self.timeout = window, timeout
        self.max_request = min(MAX_INPUTS, max_queue)
        self.width = embedders[0].dims[0]
        self.pending = 0  # texts admitted and not yet answered (queued or running)
        self._queue: deque[_Job] = deque()
        self._queued = 0  # texts not yet handed to a runner
        self._rate = 0.0  # texts per second per runner, a moving average
        self._executor = ThreadPoolExecutor(len(embedders), thread_name_prefix="embedlite-model")
        self._runners: list[asyncio.Task] = []
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._runners = [asyncio.create_task(self._run(e)) for e in self.embedders]

    async def close(self) -> None:
        for task in self._runners:
            task.cancel()
        await asyncio.gather(*self._runners, return_exceptions=True)
        self._executor.shutdown(wait=True)

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
        # On timeout wait_for cancels the job's future; runners then skip what is left of it.
        return await asyncio.wait_for(job.future, self.timeout)

    def retry_after(self) -> int:
        """Seconds until the queue has drained, at the measured speed (1 before any is measured)."""
        if not self._rate:
            return 1
        return min(60, max(1, math.ceil(self.pending / (self._rate * len(self.embedders)))))

    async def _run(self, embedder: Embedder) -> None:
        loop = asyncio.get_running_loop()
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
                tokens, vectors = await loop.run_in_executor(self._executor, _embed_batch, embedder, batch)
            except Exception as exc:  # the runtime failed: these requests get the error, the server goes on
                for job, start, stop in batch:
                    self.pending -= stop - start
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            count = len(vectors)
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
            rows = vectors[offset:offset + len(ids)]
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


def _embed_batch(embedder: Embedder, batch) -> tuple[list, np.ndarray]:
    """In a runner thread: token ids of each slice (or the ValueError of a text the tokenizer refuses), and all their
    vectors. A lone text of its length is not run twice for batch-1 bits (pair_lone): a batch of concurrent requests
    has a dozen lengths, so that would cost a quarter of the throughput, for ulps."""
    tokens: list = []
    ids: list[list[int]] = []
    for job, start, stop in batch:
        part: list[list[int]] | ValueError
        try:
            part = embedder.tokenize(job.texts[start:stop], job.prompt)[0]
        except ValueError as exc:  # a text that is not valid Unicode fails its own request only
            part = exc
        tokens.append(part)
        if not isinstance(part, Exception):
            ids += part
    width = embedder.dims[0]
    return tokens, embedder.embed_tokens(ids, width, batch_size=max(len(ids), 1), pair_lone=False)
