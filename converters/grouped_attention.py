"""Eager attention for the TFLite trace: grouped-query heads without repeat_kv, and every signature alike.

litert-torch 0.10 lowers `matmul(query, repeat_kv(key).transpose(2, 3))` wrongly (expand + reshape + transpose
into BATCH_MATMUL): Gemma 3 layer outputs were off by as much as their own size. Here each query head gets its
key/value head by concatenation, and the scores and the weighted sum are one BATCH_MATMUL of (batch x heads)
products, the same shape per product in every signature.

Every signature alike matters for LiteRT int8: a float op that rounds differently in the batch-1 graph than in
the batch-8 graph moves some int8 roundings after it, and through 24 layers EmbeddingGemma's vectors moved by up
to 8.1e-3 between a text alone and in a batch. Two such ops, found on the real weights: with one key/value head,
the batch-1 trace made the scores a FULLY_CONNECTED with the keys as float weights (the batch-8 trace a
BATCH_MATMUL), and it dropped the unit dims of the keys before k_norm, whose MEAN then rounded differently in 5
of 24 STS-B texts. Norms of the heads are taken with the heads axis before the sequence axis, where both traces
keep the same shape.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

NAME = "embedlite_grouped"


def grouped_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    softcap: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """query (b, heads, s, d), key/value (b, kv_heads, s, d) -> output (b, s, heads, d) and the weights."""
    batch, heads, seq, head_dim = query.shape
    kv_heads = key.shape[1]
    if scaling is None:
        scaling = head_dim**-0.5
    group = heads // kv_heads
    if group > 1:  # each query head's key/value head, copied by concatenation (repeat_kv's expand lowers wrongly)
        key = torch.cat([key.unsqueeze(2)] * group, dim=2).reshape(batch, heads, -1, head_dim)
        value = torch.cat([value.unsqueeze(2)] * group, dim=2).reshape(batch, heads, -1, head_dim)
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if softcap is not None:
        weights = torch.tanh(weights / softcap) * softcap
    if attention_mask is not None:
        weights = weights + attention_mask[..., : key.shape[-2]]
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    out = torch.matmul(weights, value)
    return out.reshape(batch, heads, seq, head_dim).transpose(1, 2).contiguous(), weights


def _register() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import eager_mask

    AttentionInterface.register(NAME, grouped_attention)
    AttentionMaskInterface.register(NAME, eager_mask)


class SequenceFirstNorm(nn.Module):
    """A per-head norm of (b, heads, s, d) states, computed on (b, s, heads, d): the same numbers."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.norm(states.transpose(1, 2)).transpose(1, 2)


@contextlib.contextmanager
def traced_with_grouped_attention(model: nn.Module):
    """Use grouped_attention and sequence-first head norms inside the block, then the model's own implementation
    again (the parity reference)."""
    _register()
    previous = model.config._attn_implementation
    model.set_attn_implementation(NAME)
    swapped = [
        (module, name, getattr(module, name))
        for module in model.modules()
        for name in ("q_norm", "k_norm")
        if isinstance(getattr(module, name, None), nn.Module)
    ]
    for module, name, norm in swapped:
        setattr(module, name, SequenceFirstNorm(norm))
    try:
        yield
    finally:
        for module, name, norm in swapped:
            setattr(module, name, norm)
        model.set_attn_implementation(previous)
