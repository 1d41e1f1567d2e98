"""Translations in training: a text with a translation in a pivot language is matched to the teacher's vector of
that translation (Reimers & Gurevych 2020), so a sentence and its translation are pulled to one point and the
student learns the pivot language's geometry, where the teacher is strongest; and translation batches, in which the
student must tell each text's own translation from the others' (the contrastive loss, distill.py)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from embedlite.errors import EmbedliteError

from .config import Translation


def pivots(translations: Iterable[Translation]) -> dict[str, str]:
    """Each text of the translation files -> its pivot translation (the first one where a text repeats)."""
    from embedlite.evaluation import load_sts

    found: dict[str, str] = {}
    for translation in translations:
        text, pivot = load_sts(translation.path, None), load_sts(translation.pivot, None)
        if len(text.sentences1) != len(pivot.sentences1):
            raise EmbedliteError(
                f"{translation.path} has {len(text.sentences1)} pairs and its pivot {translation.pivot} "
                f"{len(pivot.sentences1)}: a translation file must match its pivot line for line"
            )
        for ours, theirs in zip(
            [*text.sentences1, *text.sentences2], [*pivot.sentences1, *pivot.sentences2], strict=True
        ):
            found.setdefault(ours, theirs)
    return found


def toward_pivots(
    texts: list[str], targets: np.ndarray, pivot_of: dict[str, str], pivot_vectors: dict[str, np.ndarray], weight: float
) -> np.ndarray:
    """`targets` (unit rows, one per text) with each translated text's row moved `weight` of the way to its
    pivot's vector, renormalised; texts without a pivot keep theirs."""
    blended = targets.copy()
    for row, text in enumerate(texts):
        pivot = pivot_of.get(text)
        if pivot is not None and pivot != text:
            vector = (1 - weight) * targets[row] + weight * pivot_vectors[pivot]
            blended[row] = vector / np.linalg.norm(vector)
    return blended


def translation_batch(pivot_rows: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Up to `size` random texts (their indices into pivot_rows) with distinct pivots: two translations of one pivot
    (its German and its Spanish) in one batch would each be the other's false negative."""
    order = rng.permutation(len(pivot_rows))
    _, first = np.unique(pivot_rows[order], return_index=True)
    return order[np.sort(first)[:size]]
