"""fp32 model.onnx -> fp16 / int8 / int4, with the recipes that measured best on all-MiniLM-L6-v2.

Measured on the STS-B test sentences (benchmarks/results/export.md has the full table):
- plain dynamic int8 (per-tensor weights and activations): min cosine to fp32 0.80;
- dynamic int8 with per-channel weights: 0.96; leaving the GELU-fed FFN MatMuls in float: 0.978;
- weight-only int8 in blocks of 32 (MatMulNBits), activations quantized per block at run time: 0.998.
So int8 is weight-only blockwise on every constant MatMul, plus int8 per-row word embeddings; int4 is the
same with 4-bit blocks, embeddings included (GatherBlockQuantized).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .formats import PRECISIONS
from .quiet import quiet

BLOCK_SIZE = 32
# Embedding tables smaller than this stay float: the saving is not worth a lookup-side dequantize.
MIN_EMBEDDING_ELEMENTS = 1 << 20


def quantize(src: Path, dst: Path, precision: str) -> None:
    """Write `src` (fp32 ONNX) at `precision` to `dst`."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    model = onnx.load(str(src))
    if precision == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        model = convert_float_to_float16(model, keep_io_types=True)
    elif precision == "int8":
        model = _weight_only(model, bits=8, ops=("MatMul",))
        model = quantize_embeddings_int8(model)
    elif precision == "int4":
        model = _weight_only(model, bits=4, ops=("MatMul", "Gather"))
    onnx.save(model, str(dst))


def _weight_only(model: onnx.ModelProto, bits: int, ops: tuple[str, ...]) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantFormat
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    config = DefaultWeightOnlyQuantConfig(
        block_size=BLOCK_SIZE, is_symmetric=True, accuracy_level=4, bits=bits,
        quant_format=QuantFormat.QOperator, op_types_to_quantize=ops,
        quant_axes=(("MatMul", 0), ("Gather", 1)),
    )
    with quiet():
        quantizer = MatMulNBitsQuantizer(model, algo_config=config)
        quantizer.process()
    return quantizer.model.model


def quantize_embeddings_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """Store large Gather tables as int8 with a per-row scale; dequantize only the rows looked up."""
    inits = {init.name: init for init in model.graph.initializer}
    new_nodes = []
    for node in model.graph.node:
        table = inits.get(node.input[0]) if node.op_type == "Gather" else None
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if (table is None or axis != 0 or table.data_type != onnx.TensorProto.FLOAT or len(table.dims) != 2
                or np.prod(table.dims) < MIN_EMBEDDING_ELEMENTS):
            new_nodes.append(node)
            continue
        weights = numpy_helper.to_array(table)
        scale = np.maximum(np.abs(weights).max(axis=1, keepdims=True), 1e-12) / 127.0
        q = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
        base = table.name
        model.graph.initializer.remove(table)
        model.graph.initializer.extend([numpy_helper.from_array(q, f"{base}_int8"),
                                        numpy_helper.from_array(scale.astype(np.float32), f"{base}_scale")])
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
