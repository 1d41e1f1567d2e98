"""Quantization-aware training: Linear weights fake-quantized per output channel, straight-through gradients."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize


def fake_quantize(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """Symmetric per-row quantize-dequantize; the gradient passes straight through."""
    levels = 2 ** (bits - 1) - 1
    scale = weight.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / levels
    quantized = torch.clamp(torch.round(weight / scale), -levels, levels) * scale
    return weight + (quantized - weight).detach()


class _FakeQuant(nn.Module):
    def __init__(self, bits: int):
        super().__init__()
        self.bits = bits

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return fake_quantize(weight, self.bits)


def enable(model: nn.Module, bits: int) -> int:
    """Fake-quantize every Linear weight of `model`; returns how many."""
    count = 0
    for module in model.modules():
        if isinstance(module, nn.Linear) and not parametrize.is_parametrized(module, "weight"):
            parametrize.register_parametrization(module, "weight", _FakeQuant(bits))
            count += 1
    return count


def disable(model: nn.Module) -> None:
    """Bake the quantized weights in: the saved model holds values on the quantization grid."""
    for module in model.modules():
        if isinstance(module, nn.Linear) and parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
