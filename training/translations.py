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


def translation_batch(
    pivot_rows: np.ndarray, rng: np.random.Generator, size: int, neighbours: np.ndarray | None = None
) -> np.ndarray:
    """Up to `size` random texts (their indices into pivot_rows) with distinct pivots: two translations of one pivot
    (its German and its Spanish) in one batch would each be the other's false negative. With neighbours (rows of
    other texts, -1 for none), each random text is followed by one of its neighbours picked at random: about half
    the batch, then, is the near-paraphrases the random half must be told from."""
    order = rng.permutation(len(pivot_rows))
    if neighbours is not None and neighbours.shape[1]:
        picks = neighbours[order, rng.integers(0, neighbours.shape[1], len(order))]
        order = np.stack([order, picks], axis=1).ravel()
        order = order[order >= 0]
    _, first = np.unique(pivot_rows[order], return_index=True)
    return order[np.sort(first)[:size]]


def translation_neighbours(targets: np.ndarray, pivot_rows: np.ndarray, k: int, duplicate_cosine: float) -> np.ndarray:
    """(n, k) rows of each translated text's k nearest other texts by the teacher (`targets`, unit rows) that
    translate another pivot, near-duplicates (cosine above duplicate_cosine) skipped; -1 where fewer."""
    from .mining import mine_neighbours

    # a pivot's other translations are near it too: mine past them, then drop them
    extra = int(np.unique(pivot_rows, return_counts=True)[1].max()) - 1
    found = mine_neighbours(targets, k + extra, duplicate_cosine)
    found[(found >= 0) & (pivot_rows[np.maximum(found, 0)] == pivot_rows[:, None])] = -1
    kept = np.argsort(found < 0, axis=1, kind="stable")[:, :k]  # the valid ones first, nearest first
    return np.take_along_axis(found, kept, axis=1)
