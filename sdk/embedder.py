"""Embedder: texts in, unit-norm float32 vectors out, on ONNX Runtime or LiteRT."""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .artifact import Manifest, read_manifest
from .errors import ArtifactError
from .models import resolve


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
        self.dim = self._check_dim(dim)

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
        dim = self._check_dim(dim) if dim is not None else self.dim
        _check_positive("batch_size", batch_size)
        vectors, truncated = self._embed_window(texts, self._prompt(task), dim, batch_size, show_progress,
                                                pair_lone=len(texts) > 1)
        if truncated:
            warnings.warn(f"{truncated} of {len(texts)} texts were longer than {self.manifest.max_seq_length} "
                          "tokens and were truncated", stacklevel=2)
        return vectors[0] if single else vectors

    def embed_stream(self, texts: Iterable[str], task: str | None = None, dim: int | None = None,
                     batch_size: int = 32, window: int = 4096) -> Iterator[tuple[int, np.ndarray]]:
        """Embed an iterable of any length, `window` texts at a time: yields (index of the window's first text,
        its (n, dim) float32 vectors). Memory stays flat in the corpus size; the vectors equal embed()'s."""
        if isinstance(texts, (str, bytes, dict)) or not hasattr(texts, "__iter__"):
            raise TypeError(f"texts must be an iterable of strings, got {type(texts).__name__}")
        dim = self._check_dim(dim) if dim is not None else self.dim
        _check_positive("batch_size", batch_size)
        _check_positive("window", window)
        return self._stream(iter(texts), self._prompt(task), dim, batch_size, window)  # arguments checked now

    def _stream(self, texts: Iterator[str], prompt: str, dim: int, batch_size: int,
                window: int) -> Iterator[tuple[int, np.ndarray]]:
        start = truncated = 0
        while chunk := check_texts(itertools.islice(texts, window), start=start):
            vectors, cut = self._embed_window(chunk, prompt, dim, batch_size, False, pair_lone=True)
            truncated += cut
            yield start, vectors
            start += len(chunk)
        if truncated:
            warnings.warn(f"{truncated} of {start} texts were longer than {self.manifest.max_seq_length} tokens "
                          "and were truncated", stacklevel=2)

    def _embed_window(self, texts: list[str], prompt: str, dim: int, batch_size: int, show_progress: bool | None,
                      pair_lone: bool) -> tuple[np.ndarray, int]:
        """Tokenise, batch, run, truncate and normalise: (vectors, how many texts were truncated).

        A batch holds texts that run at one sequence length (ONNX: their own length, so nothing is padded):
        padding moves onnxruntime's sums by an ulp, so this way a text's vector does not depend on the texts
        that share its batch, and embed(), a stream's windows and Ray's workers give the same bits. A batch of
        one row runs another kernel, so a lone row runs twice in a batch of two unless the caller embeds one
        text (pair_lone False: a query stays batch 1)."""
        out = np.empty((len(texts), dim), dtype=np.float32)
        if not texts:
            return out, 0
        ids, truncated = self._tokenizer.encode([prompt + t for t in texts])
        by_length: dict[int, list[int]] = {}
        for i, row in enumerate(ids):
            by_length.setdefault(self._model.run_length(len(row)), []).append(i)
        batches = [rows[start:start + batch_size] for _, rows in sorted(by_length.items(), reverse=True)
                   for start in range(0, len(rows), batch_size)]
        if show_progress is None:
            show_progress = len(batches) >= 8 and sys.stderr.isatty()
        if show_progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="embedding", unit="batch")
        for rows in batches:
            batch = [ids[i] for i in rows] * (2 if pair_lone and len(rows) == 1 else 1)
            out[rows] = self._run(batch)[:len(rows), :dim]
        if dim != self.manifest.dim and self.manifest.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out, truncated

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        vectors = self._model.embed(ids, self._tokenizer.pad_id)
        width = self.manifest.output_dim or self.manifest.dim
        if vectors.ndim != 2 or vectors.shape[1] != width:
            raise ArtifactError(f"{self.path}: the model returns vectors of shape {vectors.shape[1:]}, but "
                                f"manifest.json says dim {width}: the manifest does not belong to this model")
        return vectors

    def _prompt(self, task: str | None) -> str:
        task = task if task is not None else self.manifest.default_task
        if task is None:
            return ""
        if task not in self.manifest.prompts:
            known = ", ".join(self.manifest.prompts) or "none (this model has no task prompts)"
            raise ValueError(f"unknown task {task!r}; this model's tasks: {known}")
        return self.manifest.prompts[task]

    def _check_dim(self, dim: int | None) -> int:
        if dim is None:
            return self.dims[0]
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or int(dim) not in self.dims:
            raise ValueError(f"dim {dim!r} is not supported by {self.manifest.name}; "
                             f"supported dims: {', '.join(map(str, self.dims))}")
        return int(dim)


def check_texts(texts, start: int = 0) -> list[str]:
    """A list of str, or a TypeError naming the first bad item (numbered from `start`)."""
    if isinstance(texts, (bytes, dict)) or not hasattr(texts, "__iter__"):
        raise TypeError(f"texts must be a string or a sequence of strings, got {type(texts).__name__}")
    texts = list(texts)
    for i, text in enumerate(texts, start):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
    return texts


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


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
