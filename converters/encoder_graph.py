"""The torch module that is exported: encoder, pooling, dense layers and normalisation in one graph."""

from __future__ import annotations

import inspect

import torch
from torch import nn


class EncoderGraph(nn.Module):
    """(input_ids, attention_mask) -> sentence embedding, as sentence-transformers computes it."""

    def __init__(self, encoder: nn.Module, pooling: str, denses: list[tuple[nn.Module, nn.Module]],
                 normalize: bool, output_dim: int | None = None):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.linears = nn.ModuleList([lin for lin, _ in denses])
        self.activations = nn.ModuleList([act for _, act in denses])
        self.normalize = normalize
        self.output_dim = output_dim
        self._token_types = "token_type_ids" in inspect.signature(encoder.forward).parameters

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
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
