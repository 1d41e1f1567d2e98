"""How closely an exported artifact reproduces the source model's embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from embedlite.errors import EmbedliteError


@dataclass(frozen=True)
class Parity:
    min_cosine: float
    mean_cosine: float
    sentences: int

    def line(self) -> str:
        return f"parity: min cosine {self.min_cosine:.6f}, mean {self.mean_cosine:.6f} over {self.sentences} sentences"


def default_sentences() -> list[str]:
    text = resources.files("embedlite.converters").joinpath("parity_sentences.txt").read_text("utf-8")
    return [line for line in text.splitlines() if line.strip()]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def compare(reference: np.ndarray, candidate: np.ndarray) -> Parity:
    cos = cosine_rows(np.asarray(reference, np.float64), np.asarray(candidate, np.float64))
    return Parity(float(cos.min()), float(cos.mean()), len(cos))


def compare_artifact(reference: np.ndarray, artifact: Path, texts: list[str]) -> Parity:
    """Cosine between reference embeddings (the source model's) and the artifact's, text by text."""
    from embedlite.embedder import Embedder

    return compare(reference, Embedder(artifact, device="cpu").embed(texts, show_progress=False))


def check_tokenizer(st_model, tokenizer_json: Path, texts: list[str]) -> None:
    """The artifact's tokenizer.json must give the ids the source model's own pipeline gives (special tokens that
    a Python tokenizer class adds outside tokenizer.json would be lost silently otherwise)."""
    from embedlite.runtimes.tokenizer import TextTokenizer

    preprocess = getattr(st_model, "preprocess", None) or st_model.tokenize  # sentence-transformers 6 / 5
    features = preprocess(texts)
    expected = [row[mask.bool()].tolist() for row, mask in zip(features["input_ids"], features["attention_mask"])]
    got, _ = TextTokenizer(tokenizer_json, int(st_model.max_seq_length)).encode(texts)
    for text, mine, theirs in zip(texts, got, expected):
        if mine != theirs:
            raise EmbedliteError(
                f"the exported tokenizer.json gives {mine[:12]} for {text[:40]!r}, the source model's "
                f"tokenizer {theirs[:12]}: its special tokens or settings are not in tokenizer.json"
            )
