"""Checkpoint merging ("model souping"): the parameter-wise average of several runs of one architecture."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from embedlite.errors import EmbedliteError


def average(models: Sequence, names: Sequence[str], weights: Sequence[float] | None = None):
    """Load the weighted average of `models` (same architecture) into the first one and return it."""
    import torch

    if len(models) < 2:
        raise EmbedliteError("merging needs at least two checkpoints")
    weights = list(weights or [1.0 / len(models)] * len(models))
    if len(weights) != len(models) or abs(sum(weights) - 1) > 1e-6:
        raise EmbedliteError("merge weights must be one per checkpoint and sum to 1")
    states = [m.state_dict() for m in models]
    for name, state in zip(names[1:], states[1:]):
        if state.keys() != states[0].keys() or any(state[k].shape != states[0][k].shape for k in state):
            raise EmbedliteError(f"{name} does not have the architecture of {names[0]}: cannot average them")
    merged = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            merged[key] = sum(w * s[key].double() for w, s in zip(weights, states)).to(first.dtype)
        else:
            merged[key] = first
    with torch.no_grad():
        models[0].load_state_dict(merged)
    return models[0]


def merge_with_initial(runs: Sequence, names: Sequence[str], initial=None, share: float = 0.0):
    """The runs averaged with equal weights, and beside them `initial` (the student they started from) with weight
    `share` (weight-space ensembling, as WiSE-FT); one run and no share: that run."""
    models, names = list(runs), list(names)
    weights = [(1 - share) / len(models)] * len(models)
    if share:
        models.append(initial)
        names.append("initial student")
        weights.append(share)
    return models[0] if len(models) == 1 else average(models, names, weights)


def merge(paths: list[Path], out: Path, weights: list[float] | None = None) -> Path:
    """Average sentence-transformers directories of the same architecture into `out`."""
    from sentence_transformers import SentenceTransformer

    if len(paths) < 2:
        raise EmbedliteError("merging needs at least two checkpoints")
    models = [SentenceTransformer(str(p), device="cpu") for p in paths]
    average(models, [str(p) for p in paths], weights).save(str(out))
    return Path(out)
