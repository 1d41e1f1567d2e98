"""Gemma-style chains of small ops in an exported graph as one onnxruntime op each: every RMSNorm (Pow, ReduceMean,
Add, Sqrt, Reciprocal, Mul, Mul by its weight) as SimplifiedLayerNormalization, every tanh GELU (Pow, Mul, Add, Mul,
Tanh, Add, Mul, Mul) as FastGelu. onnxruntime's own session fusers match neither: the exporter writes the norm with
Reciprocal and Mul where they look for Div, and the GELU's constants in another order.

Where int8's per-channel smoothing (token_int8) multiplies a norm's output and nothing else reads that output, the
smoothing folds into the norm's weight. Pattern-based, so a graph without these chains (BERT) is left as it is.

Measured on EmbeddingGemma-300m (real weights, 2 threads, 16 inputs of 128 tokens, alternating rounds in one
process, AMD EPYC with VNNI, 2026-12-05): 145 norms and 24 GELUs fused; int8 14.2 -> 15.6 sentences/s (+10%; +13%
in a second run), fp32 +3%; the fused fp32 graph gives the unfused one's vectors (min cosine 0.99999994), the fused
int8 is as close to fp32 as before (min cosine 0.99831 vs 0.99833 on 256 STS-B test sentences).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .onnx_fusion import use_contrib_domain

SQRT_2_OVER_PI, GELU_CUBIC = 0.7978845608, 0.044715


class _Graph:
    """Who produces and who reads each tensor, and the value of each initializer."""

    def __init__(self, model: onnx.ModelProto):
        self.inits = {i.name: i for i in model.graph.initializer}
        self.producer = {out: node for node in model.graph.node for out in node.output}
        self.readers: dict[str, list[onnx.NodeProto]] = {}
        for node in model.graph.node:
            for name in node.input:
                self.readers.setdefault(name, []).append(node)
        self.outputs = {o.name for o in model.graph.output}

    def const(self, name: str) -> np.ndarray | None:
        return numpy_helper.to_array(self.inits[name]) if name in self.inits else None

    def scalar(self, name: str) -> float | None:
        value = self.const(name)
        return float(value) if value is not None and value.size == 1 else None

    def only_reader(self, node: onnx.NodeProto, op: str) -> onnx.NodeProto | None:
        """The one node reading `node`'s output, if it is an `op` (and the output is not the graph's)."""
        readers = self.readers.get(node.output[0], [])
        if len(readers) != 1 or node.output[0] in self.outputs or readers[0].op_type != op:
            return None
        return readers[0]

    def made_by(self, name: str, op: str) -> onnx.NodeProto | None:
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op else None


def _path(g: _Graph, start: onnx.NodeProto, ops: tuple[str, ...]) -> list[onnx.NodeProto] | None:
    """The nodes `ops` that follow `start`, each the one reader of the one before."""
    nodes, node = [], start
    for op in ops:
        follower = g.only_reader(node, op)
        if follower is None:
            return None
        nodes.append(node := follower)
    return nodes


def _other(node: onnx.NodeProto, name: str) -> str | None:
    """The other input of a two-input node, one of whose inputs is `name`."""
    a, b = node.input
    return b if a == name else a if b == name else None


Match = tuple[list[onnx.NodeProto], onnx.NodeProto, list[onnx.TensorProto]]  # chain, its fused op, new weights


def _rms_norm(g: _Graph, mean: onnx.NodeProto) -> Match | None:
    """The chain x -> Pow 2 -> ReduceMean(-1) -> Add eps -> Sqrt -> Reciprocal -> Mul x -> Mul w [-> Mul s] around
    this ReduceMean, and its SimplifiedLayerNormalization."""
    power = g.made_by(mean.input[0], "Pow")
    axes = g.const(mean.input[1]) if len(mean.input) > 1 else None
    if power is None or g.scalar(power.input[1]) != 2.0 or axes is None or axes.ravel().tolist() != [-1]:
        return None
    x = power.input[0]
    path = _path(g, mean, ("Add", "Sqrt", "Reciprocal", "Mul", "Mul"))
    if path is None:
        return None
    add, sqrt, inverse, scaled, weighted = path
    if _other(scaled, inverse.output[0]) != x:
        return None
    epsilon = g.scalar(_other(add, mean.output[0]) or "")
    weight = g.const(_other(weighted, scaled.output[0]) or "")
    if epsilon is None or weight is None or weight.ndim != 1:
        return None
    chain = [power, mean, add, sqrt, inverse, scaled, weighted]
    smoothing = g.only_reader(weighted, "Mul")
    smooth = g.const(_other(smoothing, weighted.output[0]) or "") if smoothing else None
    if smooth is not None and smooth.shape == weight.shape:
        weight = weight * smooth
        chain.append(smoothing)
    out = chain[-1].output[0]
    scale = numpy_helper.from_array(weight.astype(np.float32), f"{out}.rms_weight")
    fused = helper.make_node(
        "SimplifiedLayerNormalization",  # onnxruntime registers it in the default domain
        [x, scale.name],
        [out],
        name=f"{out}.rms_norm",
        axis=-1,
        epsilon=epsilon,
    )
    return chain, fused, [scale]


def _tanh_gelu(g: _Graph, tanh: onnx.NodeProto) -> Match | None:
    """0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))) around this Tanh, and its FastGelu."""
    outer = g.made_by(tanh.input[0], "Mul")
    if outer is None:
        return None
    coefficient = [i for i in outer.input if i in g.inits]
    inner = [g.made_by(i, "Add") for i in outer.input if i not in g.inits]
    if len(coefficient) != 1 or abs((g.scalar(coefficient[0]) or 0) - SQRT_2_OVER_PI) > 1e-5 or not inner[0]:
        return None
    add = inner[0]
    for name in add.input:
        cubic = g.made_by(name, "Mul")
        x = _other(add, name)
        terms = [i for i in cubic.input if i not in g.inits] if cubic else []
        power = g.made_by(terms[0], "Pow") if len(terms) == 1 else None
        if power is not None and power.input[0] == x and g.scalar(power.input[1]) == 3.0:
            k = g.scalar(_other(cubic, terms[0]) or "")
            if k is not None and abs(k - GELU_CUBIC) < 1e-6:
                break
    else:
        return None
    path = _path(g, tanh, ("Add", "Mul", "Mul"))
    if path is None:
        return None
    one, half, product = path
    if g.scalar(_other(one, tanh.output[0]) or "") != 1.0:
        return None
    if g.scalar(_other(half, one.output[0]) or "") != 0.5 or _other(product, half.output[0]) != x:
        return None
    chain = [power, cubic, add, outer, tanh, one, half, product]
    if any(len(g.readers.get(n.output[0], [])) != 1 for n in chain[:-1]):
        return None
    fused = helper.make_node("FastGelu", [x], [product.output[0]], name=f"{product.output[0]}.gelu")
    fused.domain = "com.microsoft"
    return chain, fused, []


MATCHERS = {"ReduceMean": _rms_norm, "Tanh": _tanh_gelu}  # the op each chain is found from


def fuse_decoder_ops(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, int]]:
    """The model with its RMSNorm and tanh-GELU chains fused, and how many of each it holds."""
    g = _Graph(model)
    dropped: list[onnx.NodeProto] = []
    in_place: dict[int, onnx.NodeProto] = {}  # a chain's last node -> its fused op (inputs are ready by then)
    for node in model.graph.node:
        match = MATCHERS.get(node.op_type)
        found = match(g, node) if match else None
        if found:
            chain, fused, weights = found
            dropped += chain
            in_place[id(chain[-1])] = fused
            model.graph.initializer.extend(weights)
    if not in_place:
        return model, {}
    gone = {id(n) for n in dropped}
    nodes = [in_place.get(id(n), n) for n in model.graph.node if id(n) in in_place or id(n) not in gone]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {name for node in nodes for name in node.input}
    orphans = {name for node in dropped for name in node.input if name in g.inits and name not in used}
    kept = [init for init in model.graph.initializer if init.name not in orphans]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    use_contrib_domain(model)
    counts = Counter(fused.op_type for fused in in_place.values())
    return model, dict(sorted(counts.items()))
