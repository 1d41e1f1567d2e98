"""The torch module that is exported: encoder, pooling, dense layers and normalisation in one graph."""

from __future__ import annotations

import inspect

import torch
from torch import nn

# Encoders whose attention mask is padding only, so the graph may pass it as BERT's additive (batch, 1, seq, seq)
# bias; onnxruntime's attention fusion recognises that form (converters/onnx_fusion.py).
PADDING_MASK_ARCHITECTURES = ("bert",)


class EncoderGraph(nn.Module):
    """(input_ids, attention_mask) -> sentence embedding, as sentence-transformers computes it."""

    def __init__(
        self,
        encoder: nn.Module,
        pooling: str,
        denses: list[tuple[nn.Module, nn.Module]],
        normalize: bool,
        output_dim: int | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.linears = nn.ModuleList([lin for lin, _ in denses])
        self.activations = nn.ModuleList([act for _, act in denses])
        self.normalize = normalize
        self.output_dim = output_dim
        self._token_types = "token_type_ids" in inspect.signature(encoder.forward).parameters
        self.additive_mask = getattr(encoder.config, "model_type", None) in PADDING_MASK_ARCHITECTURES

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask_in = additive_padding_mask(attention_mask, torch.float32) if self.additive_mask else attention_mask
        kwargs = {"input_ids": input_ids, "attention_mask": mask_in}
        if self._token_types:
            kwargs["token_type_ids"] = torch.zeros_like(input_ids)
        tokens = self.encoder(**kwargs).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
        if self.pooling == "mean":
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        elif self.pooling == "cls":
            pooled = tokens[:, 0]
        else:  # max
            pooled = tokens.masked_fill(mask == 0, torch.finfo(tokens.dtype).min).max(1).values
        for linear, activation in zip(self.linears, self.activations):
            pooled = activation(linear(pooled))
        if self.output_dim is not None:
            pooled = pooled[:, : self.output_dim]
        if self.normalize or self.output_dim is not None:
            pooled = nn.functional.normalize(pooled, p=2, dim=1)
        return pooled


def additive_padding_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, seq) 0/1 mask -> (batch, 1, seq, seq) bias: 0 where attended, the dtype's minimum where padded.
    transformers takes a 4-D mask as it is; spelled expand -> 1 - mask -> masked_fill, it exports to the Where pattern
    onnxruntime fuses into Attention (transformers' own mask exports to ops it does not match)."""
    batch, seq = attention_mask.shape
    inverted = 1.0 - attention_mask[:, None, None, :].expand(batch, 1, seq, seq).to(dtype)
    return inverted.masked_fill(inverted.to(torch.bool), torch.finfo(dtype).min)
