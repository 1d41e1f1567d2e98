"""SmoothQuant for LiteRT's int8: a BERT graph reparametrised so that its products' inputs have no outlier channels.

LiteRT's dynamic-range int8 (XNNPACK) quantizes each row (token) of a product's input with that row's own scale,
as embedlite's ONNX int8 does (converters/token_int8.py), so a few large LayerNorm channels take a token's whole
int8 range. Each product's input is divided per channel by SmoothQuant's factor and the weight's input columns
multiplied by it: the same float function, flatter activations. On embedlite-small-v3 (STS-B test, fp32 0.8417):
LiteRT int8 0.8394 without, see MODEL_CARD.md for with. Where the factor goes, per BERT layer:
- Q, K and V: one Mul on the self-attention's input (it also feeds the residual, so no LayerNorm can take it);
- the attention output: folded into V's rows and bias (the context is a mix of V's rows): no op;
- the FFN input and output: one Mul each.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .token_int8 import smoothing


def bert_layers(graph: nn.Module) -> list[nn.Module]:
    """The transformer layers of an EncoderGraph over a BERT-family encoder; [] for any other architecture."""
    encoder = getattr(getattr(graph, "encoder", None), "encoder", None)
    layers = list(getattr(encoder, "layer", []))
    needed = ("attention", "intermediate", "output")
    return layers if layers and all(hasattr(layer, n) for layer in layers for n in needed) else []


def smoothed(graph: nn.Module, calibration: list[dict[str, np.ndarray]]) -> nn.Module:
    """A copy of `graph` with every product of its BERT layers smoothed on the calibration feeds' activations;
    `graph` itself where it has none (no copy of EmbeddingGemma's 308M weights, no calibration pass over them)."""
    if not bert_layers(graph):
        return graph
    graph = copy.deepcopy(graph).eval()
    layers = bert_layers(graph)
    points = [
        (layer.attention.self, layer.intermediate, layer.output.dense, layer.attention.output.dense) for layer in layers
    ]
    amax = _input_absmax(graph, [m for group in points for m in group], calibration)
    with torch.no_grad():
        for layer, (attention, intermediate, output, attention_output) in zip(layers, points):
            qkv = (attention.query, attention.key, attention.value)
            _prescale(attention, qkv, amax[attention])
            _prescale(intermediate, (intermediate.dense,), amax[intermediate])
            _prescale(output, (output,), amax[output])
            s = _factor(amax[attention_output], (attention_output,))
            attention.value.weight.div_(s[:, None])
            attention.value.bias.div_(s)
            attention_output.weight.mul_(s[None, :])
    return graph


def _factor(activation_absmax: torch.Tensor, linears: tuple[nn.Linear, ...]) -> torch.Tensor:
    w_max = torch.stack([lin.weight.abs().amax(dim=0) for lin in linears]).amax(dim=0)
    return torch.from_numpy(smoothing(activation_absmax.numpy(), w_max.numpy())).float()


def _prescale(module: nn.Module, linears: tuple[nn.Linear, ...], activation_absmax: torch.Tensor) -> None:
    """module's first input divided by the factor (a Mul in the graph); the linears reading it scaled to match."""
    s = _factor(activation_absmax, linears)
    for lin in linears:
        lin.weight.mul_(s[None, :])
    module.register_buffer("smoothing_inverse", 1.0 / s)
    module.register_forward_pre_hook(_divide_first_input)


def _divide_first_input(module: nn.Module, args: tuple) -> tuple:
    return (args[0] * module.smoothing_inverse, *args[1:])


def _input_absmax(
    graph: nn.Module, modules: list[nn.Module], calibration: list[dict[str, np.ndarray]]
) -> dict[nn.Module, torch.Tensor]:
    """Per channel, the largest |value| of each module's first input over the calibration feeds' real tokens."""
    amax: dict[nn.Module, torch.Tensor] = {}
    mask: list[torch.Tensor] = []

    def record(module: nn.Module, args: tuple) -> None:
        x = args[0].detach().abs() * mask[0][..., None]  # padding tokens are never embedded: they choose nothing
        seen = x.reshape(-1, x.shape[-1]).amax(dim=0)
        amax[module] = torch.maximum(amax[module], seen) if module in amax else seen

    hooks = [m.register_forward_pre_hook(record) for m in modules]
    try:
        with torch.no_grad():
            for feed in calibration:
                mask[:] = [torch.from_numpy(feed["attention_mask"]).float()]
                graph(torch.from_numpy(feed["input_ids"]).long(), torch.from_numpy(feed["attention_mask"]).long())
    finally:
        for hook in hooks:
            hook.remove()
    return amax
