"""fp32 model.onnx -> fp16 / int8 / int8-accurate / int4, with the recipes that measured best on all-MiniLM-L6-v2.

- int8 (speed, one vector per text): integer GEMMs with activations quantized per token (converters/token_int8.py:
  7-bit weights per column, per-channel smoothing calibrated on the parity texts, Q/K/V as one GEMM beside a float
  MultiHeadAttention), plus int8 per-row word embeddings. On all-MiniLM-L6-v2, STS-B test (AVX2 without VNNI):
  0.8194 vs fp32 0.8203, min cosine 0.984. Weights use 7 bits: on x86 CPUs without VNNI, onnxruntime sums u8 x s8
  products in pairs into 16 bits (vpmaddubsw), which saturate with 8-bit weights (255 * 127 * 2 > 32767) but not
  with 7-bit ones (255 * 64 * 2 = 32640); 8-bit weights gave other vectors on AVX2 than on VNNI CPUs (cosine 0.985
  to each other, measured with the earlier per-tensor int8 under qemu -cpu Haswell).
- int8-accurate (size at near-fp32 accuracy): weight-only int8 in blocks of 32 (MatMulNBits) plus int8 per-row
  word embeddings: min cosine 0.998, but slower than fp32 on x86 (weights are dequantized on every call).
- int4 (smallest): the same with 4-bit blocks, embeddings included (GatherBlockQuantized). Gemma keeps its layers
  at 8 bits (GEMMA_INT4), below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .decoder_fusion import fuse_decoder_ops
from .onnx_fusion import fuse
from .precisions import PRECISIONS
from .quiet import quiet
from .token_int8 import quantize_per_token

BLOCK_SIZE = 32
# fp16 and the weight-only precisions keep the plain graph: MatMulNBits needs the MatMuls that Attention hides;
# int8 fuses, then splits Attention's packed Q/K/V back out (token_int8)
FUSED_PRECISIONS = ("fp32", "int8")
# Embedding tables (and Gemm weights) smaller than this stay float: the saving is not worth a dequantize.
MIN_EMBEDDING_ELEMENTS = 1 << 20


# EmbeddingGemma-300m's int4: 4-bit blocks of 32 for the 262k-token embedding table (2/3 of its weights), 8-bit
# blocks for the layers. Min / mean cosine to fp32 on the 40 parity sentences (real weights, measured here):
#   every MatMul and the table at 4 bits (the plain int4): 0.9746 / 0.980, 212 MB
#   the layers alone at 4 bits: 0.9746; the table alone at 4 bits: 0.9924 / 0.9989
#   layers at 4 bits with q/k/v/o, or the MLP, or down_proj, or the first and last two layers at 8: 0.982-0.987;
#   asymmetric blocks 0.9755; blocks of 16: 0.9812; HQQ blocks of 32: 0.9807
#   table 4 bits (blocks of 32) + layers 8 bits: 0.9928 / 0.9988, 263 MB (blocks of 128 for the table: 0.9904)
#   every MatMul and the table at 4 bits, computed in float (accuracy_level 1) instead of with int8 activations
#   (level 4): 0.9768 / 0.9818 vs 0.9767 / 0.9816, 197 MB (2026-12-05): the weights, not the activations, cost it
# So 4-bit layers cap Gemma's fp32 weights near 0.98 however they are grouped (its published Q4_0 checkpoint
# comes from quantization-aware training); the table takes 4 bits at little cost. No 4-bit artifact reaches
# 150 MB: 308M weights at 4 bits are 154 MB before a single scale.
GEMMA_INT4 = {"table_bits": 4, "layer_bits": 8}


def quantize(
    src: Path, dst: Path, precision: str, architecture: str = "", calibration: list[dict[str, np.ndarray]] | None = None
) -> dict:
    """Write `src` (fp32 ONNX) at `precision` to `dst`, fused first where that helps; returns the fused ops.
    calibration: input feeds (input_ids, attention_mask) whose activations int8 calibrates on."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    model = onnx.load(str(src))
    bias_names = _unique_biases(model) if precision == "int8" else {}  # before fuse() renames them
    fused: dict[str, int] = {}
    if precision in FUSED_PRECISIONS:
        model, fused = fuse(model)
    if precision == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        model = convert_float_to_float16(model, keep_io_types=True)
    elif precision == "int8":
        if not calibration:
            raise ValueError("int8 needs calibration feeds")
        model = quantize_embeddings_int8(quantize_per_token(model, calibration, bias_names))
    elif precision == "int8-accurate":
        model = quantize_embeddings_int8(_weight_only(_gemm_as_matmul(model), bits=8, ops=("MatMul",)))
    elif precision == "int4" and architecture.startswith("gemma"):
        model = _weight_only(_gemm_as_matmul(model), bits=GEMMA_INT4["table_bits"], ops=("Gather",))
        model = _weight_only(model, bits=GEMMA_INT4["layer_bits"], ops=("MatMul",))
    elif precision == "int4":
        model = _weight_only(_gemm_as_matmul(model), bits=4, ops=("MatMul", "Gather"))
    if precision != "fp16":  # last, so that int8's smoothing folds into the norms
        model, decoder_ops = fuse_decoder_ops(model)
        fused.update(decoder_ops)
    onnx.save(model, str(dst))
    return {"fused_ops": fused} if fused else {}


def _unique_biases(model: onnx.ModelProto) -> dict[bytes, str]:
    """Bias vectors by their bytes, where one name holds them: how int8 names the Q/K/V biases it splits out of a
    fused Attention (a rebuild finds each layer by its bias names)."""
    names: dict[bytes, list[str]] = {}
    for init in model.graph.initializer:
        if len(init.dims) == 1 and init.name.endswith(".bias"):
            names.setdefault(numpy_helper.to_array(init).tobytes(), []).append(init.name)
    return {key: found[0] for key, found in names.items() if len(found) == 1}


def _weight_only(model: onnx.ModelProto, bits: int, ops: tuple[str, ...]) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantFormat
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    config = DefaultWeightOnlyQuantConfig(
        block_size=BLOCK_SIZE,
        is_symmetric=True,
        accuracy_level=4,
        bits=bits,
        quant_format=QuantFormat.QOperator,
        op_types_to_quantize=ops,
        quant_axes=(("MatMul", 0), ("Gather", 1)),
    )
    with quiet():
        quantizer = MatMulNBitsQuantizer(model, algo_config=config)
        quantizer.process()
    return quantizer.model.model


def _gemm_as_matmul(model: onnx.ModelProto) -> onnx.ModelProto:
    """Large Gemms with a constant weight (the Dense layers after pooling: EmbeddingGemma's 768->3072->768, 19 MB
    in fp32) as MatMul + Add, which the weight-only quantizer handles; small ones (embedlite-small's 384x384
    rotation, 0.6 MB) stay float."""
    inits = {init.name: init for init in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        weight = inits.get(node.input[1]) if node.op_type == "Gemm" and len(node.input) > 1 else None
        if (
            weight is None
            or np.prod(weight.dims) < MIN_EMBEDDING_ELEMENTS
            or attrs.get("transA", 0)
            or attrs.get("alpha", 1.0) != 1.0
            or attrs.get("beta", 1.0) != 1.0
        ):
            nodes.append(node)
            continue
        array = numpy_helper.to_array(weight)
        model.graph.initializer.remove(weight)
        model.graph.initializer.append(
            numpy_helper.from_array(
                np.ascontiguousarray(array.T if attrs.get("transB", 0) else array), f"{weight.name}_matmul"
            )
        )
        product = node.output[0] + "_matmul" if len(node.input) > 2 else node.output[0]
        nodes.append(
            helper.make_node("MatMul", [node.input[0], f"{weight.name}_matmul"], [product], name=f"{node.name}_matmul")
        )
        if len(node.input) > 2:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]], name=f"{node.name}_add"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def quantize_embeddings_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """Store large Gather tables as int8 with a per-row scale; dequantize only the rows looked up."""
    inits = {init.name: init for init in model.graph.initializer}
    new_nodes = []
    for node in model.graph.node:
        table = inits.get(node.input[0]) if node.op_type == "Gather" else None
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if (
            table is None
            or axis != 0
            or table.data_type != onnx.TensorProto.FLOAT
            or len(table.dims) != 2
            or np.prod(table.dims) < MIN_EMBEDDING_ELEMENTS
        ):
            new_nodes.append(node)
            continue
        weights = numpy_helper.to_array(table)
        scale = np.maximum(np.abs(weights).max(axis=1, keepdims=True), 1e-12) / 127.0
        q = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
        base = table.name
        model.graph.initializer.remove(table)
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(q, f"{base}_int8"),
                numpy_helper.from_array(scale.astype(np.float32), f"{base}_scale"),
            ]
        )
        ids, out = node.input[1], node.output[0]
        new_nodes += [
            helper.make_node("Gather", [f"{base}_int8", ids], [f"{out}_q"], axis=0),
            helper.make_node("Gather", [f"{base}_scale", ids], [f"{out}_s"], axis=0),
            helper.make_node("Cast", [f"{out}_q"], [f"{out}_f"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Mul", [f"{out}_f", f"{out}_s"], [out]),
        ]
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    return model
