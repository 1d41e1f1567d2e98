"""Eager attention for the TFLite trace, with grouped-query heads as a reshape instead of repeat_kv.

litert-torch 0.10 lowers `matmul(query, repeat_kv(key).transpose(2, 3))` wrongly (expand + reshape + transpose
into BATCH_MATMUL): Gemma 3 layer outputs were off by as much as their own size. Folding the query heads of a
group into the rows of one matmul per key head computes the same scores without materialising repeated keys.
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
    grouped = query.reshape(batch, kv_heads, heads // kv_heads * seq, head_dim)
    weights = torch.matmul(grouped, key.transpose(2, 3)).reshape(batch, heads, seq, -1) * scaling
    if softcap is not None:
        weights = torch.tanh(weights / softcap) * softcap
    if attention_mask is not None:
        weights = weights + attention_mask[..., : key.shape[-2]]
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    out = torch.matmul(weights.reshape(batch, kv_heads, -1, weights.shape[-1]), value)
    return out.reshape(batch, heads, seq, head_dim).transpose(1, 2).contiguous(), weights


def _register() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import eager_mask

    AttentionInterface.register(NAME, grouped_attention)
    AttentionMaskInterface.register(NAME, eager_mask)


@contextlib.contextmanager
def traced_with_grouped_attention(model: nn.Module):
    """Use grouped_attention inside the block, then the model's own implementation again (the parity reference)."""
    _register()
    previous = model.config._attn_implementation
    model.set_attn_implementation(NAME)
    try:
        yield
    finally:
        model.set_attn_implementation(previous)
