"""Quantization-aware training: Linear weights fake-quantized the way the int8/int4 exports quantize them
(symmetric, one scale per block of input values, or per output row), straight-through gradients."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize


def fake_quantize(weight: torch.Tensor, bits: int, block: int | None = None) -> torch.Tensor:
    """Symmetric quantize-dequantize per row, or per block of `block` input values when the row divides into
    blocks; the gradient passes straight through."""
    levels = 2 ** (bits - 1) - 1
    rows, cols = weight.shape
    grouped = weight.reshape(rows, cols // block, block) if block and cols % block == 0 else weight[:, None, :]
    scale = grouped.abs().amax(dim=-1, keepdim=True).clamp(min=1e-12) / levels
    quantized = (torch.clamp(torch.round(grouped / scale), -levels, levels) * scale).reshape(rows, cols)
    return weight + (quantized - weight).detach()


class _FakeQuant(nn.Module):
    def __init__(self, bits: int, block: int | None):
        super().__init__()
        self.bits, self.block = bits, block

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return fake_quantize(weight, self.bits, self.block)


def enable(model: nn.Module, bits: int, block: int | None = None) -> int:
    """Fake-quantize every Linear weight of `model` (again with new settings if already on); returns how many."""
    count = 0
    for module in model.modules():
        if isinstance(module, nn.Linear):
            if parametrize.is_parametrized(module, "weight"):
                quant = module.parametrizations["weight"][0]
                quant.bits, quant.block = bits, block
            else:
                parametrize.register_parametrization(module, "weight", _FakeQuant(bits, block))
            count += 1
    return count


def disable(model: nn.Module, bake: bool = True) -> None:
    """Remove fake quantization; bake=True keeps the quantized weights (the saved model holds values on the
    grid), bake=False keeps the float weights that trained under it (several bit widths share them)."""
    for module in model.modules():
        if isinstance(module, nn.Linear) and parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=bake)
