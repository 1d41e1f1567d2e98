"""Checkpoint merging ("model souping"): the parameter-wise average of several runs of one architecture."""

from __future__ import annotations

from pathlib import Path

from embedlite.errors import EmbedliteError


def merge(paths: list[Path], out: Path, weights: list[float] | None = None) -> Path:
    """Average sentence-transformers directories of the same architecture into `out`."""
    import torch
    from sentence_transformers import SentenceTransformer

    if len(paths) < 2:
        raise EmbedliteError("merging needs at least two checkpoints")
    weights = weights or [1.0 / len(paths)] * len(paths)
    if len(weights) != len(paths) or abs(sum(weights) - 1) > 1e-6:
        raise EmbedliteError("merge weights must be one per checkpoint and sum to 1")
    models = [SentenceTransformer(str(p), device="cpu") for p in paths]
    states = [m.state_dict() for m in models]
    for path, state in zip(paths[1:], states[1:]):
        if state.keys() != states[0].keys() or any(state[k].shape != states[0][k].shape for k in state):
            raise EmbedliteError(f"{path} does not have the architecture of {paths[0]}: cannot average them")
    merged = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            merged[key] = sum(w * s[key].double() for w, s in zip(weights, states)).to(first.dtype)
        else:
            merged[key] = first
    with torch.no_grad():
        models[0].load_state_dict(merged)
    models[0].save(str(out))
    return Path(out)
