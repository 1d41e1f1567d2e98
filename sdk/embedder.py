"""Embedder: texts in, unit-norm float32 vectors out, on ONNX Runtime or LiteRT."""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from .artifact import Manifest, read_manifest
from .models import resolve

PADDING_SLACK = 0.15  # the share of padding tokens a runtime call may add to its real ones


class Embedder:
    """Embeds texts with a model artifact.

    model: None (the default all-MiniLM-L6-v2), an artifact directory, a sentence-transformers
    directory or hub id (converted once into the cache). dim: default Matryoshka dim.
    """

    def __init__(self, model: str | Path | None = None, device: str = "auto", dim: int | None = None,
                 threads: int | None = None):
        from embedlite.runtimes import load_model
        from embedlite.runtimes.tokenizer import TextTokenizer

        self.path = resolve(model)
        self.manifest: Manifest = read_manifest(self.path)
        self._model = load_model(self.path, self.manifest, device=device, threads=threads)
        self.device = self._model.device
        self._tokenizer = TextTokenizer(self.path / "tokenizer.json", self.manifest.max_seq_length)
        self.dim = self.check_dim(dim)

    @property
    def dims(self) -> tuple[int, ...]:
        """Dims this model can return (Matryoshka truncation), largest first."""
        if self.manifest.output_dim is not None:
            return (self.manifest.output_dim,)
        return self.manifest.matryoshka_dims

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.manifest.prompts)

    def __repr__(self) -> str:
        m = self.manifest
        return f"Embedder({m.name!r}, {m.format}/{m.precision}, dim={self.dim}, device={self.device!r})"

    def embed(self, texts: str | Sequence[str], task: str | None = None, dim: int | None = None,
              batch_size: int = 32, show_progress: bool | None = None) -> np.ndarray:
        """Embed texts; a single string gives a 1-D vector, a list gives (len(texts), dim) float32."""
        single = isinstance(texts, str)
        texts = check_texts([texts] if single else texts)
        dim = self.check_dim(dim) if dim is not None else self.dim
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        ids, truncated = self.tokenize(texts, task)
        if truncated:
            warnings.warn(f"{truncated} of {len(texts)} texts were longer than {self.manifest.max_seq_length} "
                          "tokens and were truncated", stacklevel=2)
        out = self.embed_tokens(ids, dim, batch_size, show_progress)
        return out[0] if single else out

    def tokenize(self, texts: list[str], task: str | None = None) -> tuple[list[list[int]], int]:
        """Token ids of each text after the task's prompt, truncated to the max length; and how many were cut."""
        prompt = self._prompt(task)
        if not texts:
            return [], 0
        return self._tokenizer.encode([prompt + t for t in texts])

    def embed_tokens(self, ids: list[list[int]], dim: int | None = None, batch_size: int = 32,
                     show_progress: bool | None = None) -> np.ndarray:
        """Embeddings of token id lists from tokenize(): longest first, in runtime calls of at most batch_size
        texts of similar length (see length_runs), truncated to dim."""
        out = np.empty((len(ids), self.dims[0]), dtype=np.float32)  # the model's output width
        order = np.argsort([-len(row) for row in ids], kind="stable")
        # static shapes (TFLite) pad every call to a bucket anyway: there, runs are plain batch_size chunks
        slack = math.inf if self.manifest.sequence_buckets else PADDING_SLACK
        runs = length_runs([len(ids[i]) for i in order], batch_size, slack)
        if show_progress is None:
            show_progress = len(runs) >= 8 and sys.stderr.isatty()
        if show_progress:
            from tqdm.auto import tqdm

            runs = tqdm(runs, desc="embedding", unit="batch")
        for run in runs:
            rows = order[run]
            out[rows] = self._model.embed([ids[i] for i in rows], self._tokenizer.pad_id)
        return self.truncate(out, self.dim if dim is None else dim)

    def truncate(self, vectors: np.ndarray, dim: int) -> np.ndarray:
        """The first dim (Matryoshka) components of full-width vectors, re-normalised when the model normalises."""
        out = np.array(vectors[:, :dim], dtype=np.float32)
        if dim != self.manifest.dim and self.manifest.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _prompt(self, task: str | None) -> str:
        task = task if task is not None else self.manifest.default_task
        if task is None:
            return ""
        if task not in self.manifest.prompts:
            known = ", ".join(self.manifest.prompts) or "none (this model has no task prompts)"
            raise ValueError(f"unknown task {task!r}; this model's tasks: {known}")
        return self.manifest.prompts[task]

    def check_dim(self, dim: int | None) -> int:
        """dim if this model supports it (None: the largest), else a ValueError naming the supported dims."""
        if dim is None:
            return self.dims[0]
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or int(dim) not in self.dims:
            raise ValueError(f"dim {dim!r} is not supported by {self.manifest.name}; "
                             f"supported dims: {', '.join(map(str, self.dims))}")
        return int(dim)


def length_runs(lengths: list[int], batch_size: int, slack: float = PADDING_SLACK) -> list[slice]:
    """Cut longest-first lengths into runs of at most batch_size, each ending early where padding every text to
    the run's first would add more than `slack` of the run's real tokens (32 random STS-B sentences in one call
    pad to 2.5x their tokens; in runs cut this way, ~1.1x)."""
    runs, start = [], 0
    while start < len(lengths):
        stop, total = start, 0
        while (stop < len(lengths) and stop - start < batch_size
               and lengths[start] * (stop - start + 1) <= (1 + slack) * (total + lengths[stop])):
            total += lengths[stop]
            stop += 1
        runs.append(slice(start, stop))
        start = stop
    return runs


def check_texts(texts) -> list[str]:
    """A list of str, or a TypeError naming the first bad item."""
    if isinstance(texts, (bytes, dict)) or not hasattr(texts, "__iter__"):
        raise TypeError(f"texts must be a string or a sequence of strings, got {type(texts).__name__}")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
    return texts


_cache: dict[tuple, Embedder] = {}


def embed(texts: str | Sequence[str], *, model: str | Path | None = None, dim: int | None = None,
          task: str | None = None, device: str = "auto", batch_size: int = 32,
          show_progress: bool | None = None) -> np.ndarray:
    """Embed with a cached Embedder (the default model unless `model` is given)."""
    key = (str(model) if model is not None else None, device)
    if key not in _cache:
        _cache[key] = Embedder(model, device=device)
    return _cache[key].embed(texts, task=task, dim=dim, batch_size=batch_size,
                             show_progress=show_progress)
