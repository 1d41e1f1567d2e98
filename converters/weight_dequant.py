"""Float weights back from an ONNX graph's weight-only quantized initializers (what converters/onnx_quantize.py
writes), dequantized exactly as onnxruntime dequantizes them.

- com.microsoft MatMulNBits: B is uint8 (N, k_blocks, blob) with codes packed low bits first along K, scales
  (N * k_blocks) or (N, k_blocks), optional zero points (uint8, packed like B, or floats; absent = 2^(bits-1), the
  symmetric blocks); w[n, k] = (code - zero_point) * scale of k's block.
- int8 word embeddings (quantize_embeddings_int8): <name>_int8 (rows, dim) int8 with <name>_scale (rows, 1)."""

from __future__ import annotations

import numpy as np

from embedlite.errors import EmbedliteError

INT8_TABLE, INT8_SCALE = "_int8", "_scale"


def float_initializers(graph) -> dict[str, np.ndarray]:
    """The graph's initializers, with each int8 per-row table (<name>_int8 and <name>_scale) as <name> in float32.
    MatMulNBits weights stay packed: matmul_nbits_weight() reads them per node."""
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for name in [n for n in inits if n.endswith(INT8_TABLE)]:
        base = name[: -len(INT8_TABLE)]
        scale = inits.get(base + INT8_SCALE)
        if scale is None or inits[name].dtype != np.int8:
            continue
        inits[base] = inits.pop(name).astype(np.float32) * inits.pop(base + INT8_SCALE)
    return inits


def matmul_nbits_weight(node, inits: dict[str, np.ndarray]) -> np.ndarray:
    """The float32 (N, K) weight a MatMulNBits node multiplies by (A @ weight.T), from its constant inputs."""
    attrs = {a.name: a.i for a in node.attribute}
    k, n, bits, block = attrs["K"], attrs["N"], attrs.get("bits", 4), attrs["block_size"]
    if bits not in (2, 4, 8):
        raise EmbedliteError(f"MatMulNBits {node.name}: {bits}-bit weights are not supported")
    if len(node.input) > 4 and node.input[4]:
        raise EmbedliteError(f"MatMulNBits {node.name}: weights with g_idx (act-order) are not supported")
    blocks = -(-k // block)
    codes = unpack(inits[node.input[1]].reshape(n, -1), bits)[:, : blocks * block].reshape(n, blocks, block)
    scales = inits[node.input[2]].astype(np.float32).reshape(n, blocks)
    zero = node.input[3] if len(node.input) > 3 and node.input[3] else None
    if zero is None:
        zero_points = np.full((n, blocks), 2 ** (bits - 1), np.float32)
    elif inits[zero].dtype == np.uint8:
        zero_points = unpack(inits[zero].reshape(n, -1), bits)[:, :blocks].astype(np.float32)
    else:
        zero_points = inits[zero].astype(np.float32).reshape(n, blocks)
    weight = (codes.astype(np.float32) - zero_points[..., None]) * scales[..., None]
    return weight.reshape(n, blocks * block)[:, :k]


def unpack(packed: np.ndarray, bits: int) -> np.ndarray:
    """uint8 bytes -> their `bits`-wide codes, low bits first, along the last axis."""
    per_byte = 8 // bits
    shifts = np.arange(per_byte, dtype=np.uint8) * bits
    codes = (packed[..., None] >> shifts) & np.uint8((1 << bits) - 1)
    return codes.reshape(*packed.shape[:-1], packed.shape[-1] * per_byte)
