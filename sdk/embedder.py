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

    model: None (the default: embedlite-small, int8, shipped in the package), an artifact directory, a
    sentence-transformers directory or hub id (converted once into the cache). dim: default Matryoshka dim.
    """

    def __init__(
        self, model: str | Path | None = None, device: str = "auto", dim: int | None = None, threads: int | None = None
    ):
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
        """Task names with a prompt in the manifest, for `embed(..., task=name)`."""
        return tuple(self.manifest.prompts)

    @property
    def query_prompt(self) -> str:
        """What embed_query puts before each text: the model's "query" prompt, else the default task's, else ""."""
        return self._prompt_if_known("query")

    @property
    def document_prompt(self) -> str:
        """What embed_documents puts before each text: the "document" prompt, else the default task's, else ""."""
        return self._prompt_if_known("document")

    def __repr__(self) -> str:
        m = self.manifest
        return f"Embedder({m.name!r}, {m.format}/{m.precision}, dim={self.dim}, device={self.device!r})"

    def embed(
        self,
        texts: str | Sequence[str],
        task: str | None = None,
        dim: int | None = None,
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """Embed texts with the prompt of `task` (a name from `tasks`; None: the model's default task, if any).
        A single string gives a 1-D vector, a list gives (len(texts), dim) float32."""
        return self._embed(texts, self.prompt(task), None, dim, batch_size, show_progress)

    def embed_query(
        self,
        texts: str | Sequence[str],
        dim: int | None = None,
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """Embed search queries: with the model's query prompt where it has one (EmbeddingGemma:
        "task: search result | query: "), else as `embed` does."""
        return self._embed(texts, self.query_prompt, None, dim, batch_size, show_progress)

    def embed_documents(
        self,
        texts: str | Sequence[str],
        titles: str | Sequence[str | None] | None = None,
        dim: int | None = None,
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """Embed documents to search: with the model's document prompt where it has one. titles (one per text;
        None or "" for none) fill the prompt's title slot ("title: none | text: " becomes
        "title: {title} | text: "), or go before the text where the prompt has no slot."""
        return self._embed(texts, self.document_prompt, titles, dim, batch_size, show_progress)

    def _embed(
        self, texts, prompt: str, titles, dim: int | None, batch_size: int, show_progress: bool | None
    ) -> np.ndarray:
        single = isinstance(texts, str)
        texts = check_texts([texts] if single else texts)
        titles = check_titles([titles] if single and titles is not None else titles, len(texts))
        dim = self.check_dim(dim) if dim is not None else self.dim
        _check_positive("batch_size", batch_size)
        ids, truncated = self._encode([with_prompt(prompt, t, title) for t, title in zip(texts, titles)])
        if truncated:
            warnings.warn(
                f"{truncated} of {len(texts)} texts were longer than {self.manifest.max_seq_length} "
                "tokens and were truncated",
                stacklevel=3,
            )
        out = self.embed_tokens(ids, dim, batch_size, show_progress, pair_lone=len(texts) > 1)
        return out[0] if single else out

    def embed_stream(
        self,
        texts: Iterable[str],
        task: str | None = None,
        dim: int | None = None,
        batch_size: int = 32,
        window: int = 4096,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Embed an iterable of any length, `window` texts at a time: yields (index of the window's first text,
        its (n, dim) float32 vectors). Memory stays flat in the corpus size; the vectors equal embed()'s."""
        if isinstance(texts, (str, bytes, dict)) or not hasattr(texts, "__iter__"):
            raise TypeError(f"texts must be an iterable of strings, got {type(texts).__name__}")
        dim = self.check_dim(dim) if dim is not None else self.dim
        _check_positive("batch_size", batch_size)
        _check_positive("window", window)
        return self._stream(iter(texts), self.prompt(task), dim, batch_size, window)  # arguments checked now

    def _stream(
        self, texts: Iterator[str], prompt: str, dim: int, batch_size: int, window: int
    ) -> Iterator[tuple[int, np.ndarray]]:
        start = truncated = 0
        while chunk := check_texts(itertools.islice(texts, window), start=start):
            ids, cut = self.tokenize(chunk, prompt)
            truncated += cut
            yield start, self.embed_tokens(ids, dim, batch_size, False, pair_lone=True)
            start += len(chunk)
        if truncated:
            warnings.warn(
                f"{truncated} of {start} texts were longer than {self.manifest.max_seq_length} tokens "
                "and were truncated",
                stacklevel=2,
            )

    def tokenize(self, texts: list[str], prompt: str = "") -> tuple[list[list[int]], int]:
        """Token ids of prompt + each text, truncated to the max length; and how many were cut."""
        return self._encode([prompt + t for t in texts])

    def _encode(self, strings: list[str]) -> tuple[list[list[int]], int]:
        return self._tokenizer.encode(strings) if strings else ([], 0)

    def embed_tokens(
        self,
        ids: list[list[int]],
        dim: int | None = None,
        batch_size: int = 32,
        show_progress: bool | None = None,
        pair_lone: bool = True,
    ) -> np.ndarray:
        """Embeddings of token id lists from tokenize(), truncated to dim.

        A runtime call holds texts of one run_length (ONNX: a bucket of the text's own length, so a text is
        padded the same way in every call): padding to the longest would move onnxruntime's sums by an ulp, so
        this way a text's vector does not depend on the texts that share its call, and embed(), a stream's
        windows, the server's batches and Ray's workers give the same bits. A call of one row runs another
        kernel on onnxruntime, so there a lone row runs twice in a call of two unless pair_lone is False (one query
        alone stays a call of one); LiteRT's signatures need no pairing."""
        out = np.empty((len(ids), self.dims[0]), dtype=np.float32)  # the model's output width
        by_length: dict[int, list[int]] = {}
        for i, row in enumerate(ids):
            by_length.setdefault(self.run_length(len(row)), []).append(i)
        batches = [
            rows[start : start + batch_size]
            for _, rows in sorted(by_length.items(), reverse=True)
            for start in range(0, len(rows), batch_size)
        ]
        if show_progress is None:
            show_progress = len(batches) >= 8 and sys.stderr.isatty()
        if show_progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="embedding", unit="batch")
        for rows in batches:
            paired = pair_lone and len(rows) == 1 and self._model.lone_row_differs
            batch = [ids[i] for i in rows] * (2 if paired else 1)
            out[rows] = self._run(batch)[: len(rows)]
        return self.truncate(out, self.dim if dim is None else dim)

    def run_length(self, tokens: int) -> int:
        """The sequence length a text of `tokens` tokens runs at, padded (a function of the text alone)."""
        return self._model.run_length(tokens)

    def truncate(self, vectors: np.ndarray, dim: int) -> np.ndarray:
        """The first dim (Matryoshka) components of full-width vectors, re-normalised when the model normalises."""
        out = np.array(vectors[:, :dim], dtype=np.float32)
        if dim != self.manifest.dim and self.manifest.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        vectors = self._model.embed(ids, self._tokenizer.pad_id)
        width = self.manifest.output_dim or self.manifest.dim
        if vectors.ndim != 2 or vectors.shape[1] != width:
            raise ArtifactError(
                f"{self.path}: the model returns vectors of shape {vectors.shape[1:]}, but "
                f"manifest.json says dim {width}: the manifest does not belong to this model"
            )
        return vectors

    def _prompt_if_known(self, task: str) -> str:
        """The prompt of `task` where the model has one, else the default task's: queries and documents embed
        with their own prompts on EmbeddingGemma and like any text on models without prompts."""
        return self.prompt(task if task in self.manifest.prompts else None)

    def prompt(self, task: str | None) -> str:
        """The prompt of a task name from `tasks` (None: the model's default task, if any), or a ValueError."""
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
            raise ValueError(
                f"dim {dim!r} is not supported by {self.manifest.name}; "
                f"supported dims: {', '.join(map(str, self.dims))}"
            )
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


TITLE_SLOT = "title: none"  # EmbeddingGemma's document prompt: "title: none | text: "


def with_prompt(prompt: str, text: str, title: str | None = None) -> str:
    """The string the model reads: prompt + text, with a document title in the prompt's title slot (or before the
    text where the prompt has none)."""
    if not title:
        return prompt + text
    if TITLE_SLOT in prompt:
        return prompt.replace(TITLE_SLOT, f"title: {title}", 1) + text
    return prompt + f"{title} {text}".strip()


def check_titles(titles, count: int) -> list[str | None]:
    """One title (str or None) per text, or a TypeError/ValueError naming the problem."""
    if titles is None:
        return [None] * count
    if isinstance(titles, (str, bytes, dict)) or not hasattr(titles, "__iter__"):
        raise TypeError(f"titles must be a sequence of strings (or None), got {type(titles).__name__}")
    titles = list(titles)
    if len(titles) != count:
        raise ValueError(f"{len(titles)} titles for {count} texts")
    for i, title in enumerate(titles):
        if title is not None and not isinstance(title, str):
            raise TypeError(f"titles[{i}] is {type(title).__name__}, expected str or None")
    return titles


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


_cache: dict[tuple, Embedder] = {}


def embed(
    texts: str | Sequence[str],
    *,
    model: str | Path | None = None,
    dim: int | None = None,
    task: str | None = None,
    device: str = "auto",
    batch_size: int = 32,
    show_progress: bool | None = None,
) -> np.ndarray:
    """Embed with a cached Embedder (the default model unless `model` is given)."""
    key = (str(model) if model is not None else None, device)
    if key not in _cache:
        _cache[key] = Embedder(model, device=device)
    return _cache[key].embed(texts, task=task, dim=dim, batch_size=batch_size, show_progress=show_progress)
