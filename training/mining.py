"""Teacher-mined neighbours and the batches built around them."""

from __future__ import annotations

import numpy as np

ROWS = 2048  # query rows per similarity block


def mine_neighbours(targets: np.ndarray, k: int, duplicate_cosine: float) -> np.ndarray:
    """(n, k) indices of each text's k nearest other texts by teacher cosine, skipping near-duplicates
    (cosine above duplicate_cosine); -1 where a text has fewer such neighbours."""
    from tqdm.auto import tqdm

    n = len(targets)
    out = np.full((n, k), -1, dtype=np.int64)
    if n < 2 or k == 0:
        return out
    width = min(n, 4 * k + 1)  # candidates kept per row before the duplicate cut
    for start in tqdm(range(0, n, ROWS), desc="mining neighbours", unit="block", disable=None):
        sims = targets[start : start + ROWS] @ targets.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = -np.inf  # never its own neighbour
        sims[sims > duplicate_cosine] = -np.inf
        top = np.argpartition(-sims, width - 1, axis=1)[:, :width]
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")[:, :k]
        best, best_sims = np.take_along_axis(top, order, axis=1), np.take_along_axis(top_sims, order, axis=1)
        out[start : start + len(sims)] = np.where(np.isfinite(best_sims), best, -1)
    return out


def batches(n: int, batch_size: int, rng: np.random.Generator, neighbours: np.ndarray | None):
    """One epoch of index batches: a permutation cut into batches. With neighbours, each batch is half anchors
    (a new random half of the texts each epoch) and, beside each, one of its mined neighbours picked at random;
    an epoch takes as many steps as without."""
    order = rng.permutation(n)
    if neighbours is None or neighbours.shape[1] == 0:
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]
        return
    half = batch_size // 2
    for start in range(0, n, half * 2):
        anchors = order[start : start + half]
        picks = neighbours[anchors, rng.integers(0, neighbours.shape[1], len(anchors))]
        batch = np.concatenate([anchors, picks[picks >= 0]])
        yield np.array(list(dict.fromkeys(batch.tolist())), dtype=np.int64)  # a text once per batch
