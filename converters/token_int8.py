"""The int8 precision: integer matrix products whose activations are quantized per token, so a text's vector never
depends on the texts that share its batch.

Each constant-weight MatMul x @ W becomes
    x_s = x * (1 / smooth)                       per-channel smoothing (SmoothQuant, alpha 0.5), folded into W
    s   = max(|x_s| over the row) / 127          one scale per token, computed from that token alone
    q   = uint8(x_s / s + 128.5)                 symmetric codes around the zero point 128 (the +0.5 rounds)
    y   = MatMulIntegerToFloat(q, W_q, 128, w_scale) * s   W_q: 7-bit weights per output column
A fused BERT Attention is split back into Q, K and V products (each such a chain, sharing one quantized input) and a
float MultiHeadAttention. Why each piece, measured on all-MiniLM-L6-v2 / embedlite-small (2 threads, this repo's
AVX2 CPU without VNNI, STS-B test):
- per-tensor scales (onnxruntime's dynamic quantization, the old int8) moved a text's vector by up to 0.037 with its
  batch; per-token scales: < 1e-7, the float parts' rounding.
- without smoothing, embedlite-small lost 0.25 point of STS-B (0.8271 vs fp32 0.8296; min cosine 0.979): the
  LayerNorm outputs have channels 6-16x the median, which take a token's whole int8 range. With it: 0.8296.
- 7-bit weights: u8 x s8 products are summed in saturating 16-bit pairs on x86 without VNNI (see onnx_quantize).
- the row scale is a separate Mul: given to MatMulIntegerToFloat (as onnxruntime's own fusion of MatMulInteger ->
  Cast -> Mul does), a per-row scale is taken as a per-column one (min cosine 0.79 to fp32).
- the products of one input (Q, K and V) are one GEMM, and the quantizing ops are plain ONNX: at batch 1 the ~10
  small ops of each chain cost about as much as the integer products themselves (onnxruntime's profile). One GEMM
  per product sharing the codes (no Split; the same bits) measured 1.05x on EmbeddingGemma (16 x 128 tokens) but
  batch-1 p50 0.97x and batch 32 1.00x on embedlite-small v3 (five alternating rounds, VNNI, 2026-12-05): kept joined.
- int8 x int8 (s8 activations) has no AVX2 kernel here: 4x slower than u8 x s8.
- Div + Add + Cast as one per-axis QuantizeLinear on a [rows, K] view (row scales, an Expanded zero point 128):
  0.93x the sentences/s at batch 32 (446-482 vs 456-489, five alternating rounds, small v3, AVX-512 VNNI, 2
  threads), batch-1 p50 the same: the reshapes cost what the fused op saves. Not kept.
Reading back (the rebuild of shipped models): products() gives each chain's float weights, as_float() the graph
with every chain as float MatMuls of those weights.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .onnx_fusion import use_contrib_domain

WEIGHT_BITS = 7
ALPHA = 0.5  # SmoothQuant's migration strength: 0.5 measured on embedlite-small (STS-B 0.8296 = fp32)
MIN_WEIGHT_ELEMENTS = 1 << 16  # smaller products (a 384x384 rotation after pooling: 0.6 MB) stay float
ZERO_POINT = 128
INT8, SCALE, SMOOTH = ".int8", ".scale", ".smooth"  # initializer suffixes of a chain's weight, column scales, smoothing
CHAIN_PARTS = (INT8, SCALE, SMOOTH, ".split_sizes")


def smoothing(activation_absmax: np.ndarray, weight_absmax: np.ndarray) -> np.ndarray:
    """SmoothQuant's per-input-channel factor s: x / s and W * s (rows of W) give the same product, with the
    activations' outlier channels moved into the weights (activation_absmax: per channel over calibration texts;
    weight_absmax: per input row of W, the largest over the products that share the input)."""
    return np.clip(
        np.maximum(activation_absmax, 1e-5) ** ALPHA / np.maximum(weight_absmax, 1e-5) ** (1 - ALPHA), 1e-4, 1e4
    )


def quantize_per_token(
    model: onnx.ModelProto, calibration: list[dict[str, np.ndarray]], bias_names: dict[bytes, str] | None = None
) -> onnx.ModelProto:
    """`model` (fp32, fused or not) with every large constant MatMul as a per-token int8 chain; `calibration`:
    input feeds whose activations choose the smoothing; `bias_names`: the original names of Q/K/V biases (by their
    bytes) for the split of fused Attention nodes."""
    model = use_contrib_domain(_split_attention(model, bias_names or {}))
    inits = {i.name: i for i in model.graph.initializer}
    targets: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        if _large_constant_matmul(node, inits):
            targets.setdefault(node.input[0], []).append(node)
    amax = _activation_absmax(model, list(targets), calibration)
    constants = {
        "tokenint8.eps": np.array(1e-12, np.float32),
        "tokenint8.inv127": np.array(1 / 127, np.float32),
        "tokenint8.offset": np.array(ZERO_POINT + 0.5, np.float32),
        "tokenint8.one": np.array(1.0, np.float32),
        "tokenint8.zero_point": np.array(ZERO_POINT, np.uint8),
        "tokenint8.axes": np.array([-1], np.int64),
    }
    new_inits = [numpy_helper.from_array(v, k) for k, v in constants.items()]
    chains: dict[str, list[onnx.NodeProto]] = {}
    written: set[str] = set()
    for x, consumers in targets.items():
        weights = [numpy_helper.to_array(inits[n.input[1]]).astype(np.float32) for n in consumers]
        w_max = np.max([np.abs(w).max(axis=1) for w in weights], axis=0)
        smooth = smoothing(amax[x], w_max)
        first = consumers[0].input[1]
        new_inits.append(numpy_helper.from_array((1 / smooth).astype(np.float32), first + SMOOTH))
        p = first + ".token"
        nodes = [
            helper.make_node("Mul", [x, first + SMOOTH], [f"{p}.smoothed"], name=f"{p}.smooth"),
            helper.make_node("Abs", [f"{p}.smoothed"], [f"{p}.abs"], name=f"{p}.abs"),
            _reduce_max(model, f"{p}.abs", f"{p}.amax", f"{p}.amax"),
            helper.make_node("Max", [f"{p}.amax", "tokenint8.eps"], [f"{p}.amax_eps"], name=f"{p}.amax_eps"),
            helper.make_node("Mul", [f"{p}.amax_eps", "tokenint8.inv127"], [f"{p}.scale"], name=f"{p}.scale"),
            helper.make_node("Div", [f"{p}.smoothed", f"{p}.scale"], [f"{p}.scaled"], name=f"{p}.scaled"),
            helper.make_node("Add", [f"{p}.scaled", "tokenint8.offset"], [f"{p}.shifted"], name=f"{p}.shifted"),
            helper.make_node("Cast", [f"{p}.shifted"], [f"{p}.codes"], to=TensorProto.UINT8, name=f"{p}.codes"),
        ]
        parts_w, parts_s = [], []
        for node, weight in zip(consumers, weights):
            name = node.input[1]
            if name in written:
                raise ValueError(f"the weight {name} is shared by two products; not supported")
            written.add(name)
            codes, column_scale = _quantize_weight(weight * smooth[:, None])
            model.graph.initializer.remove(inits[node.input[1]])
            new_inits += [
                numpy_helper.from_array(codes, name + INT8),
                numpy_helper.from_array(column_scale, name + SCALE),
            ]
            parts_w.append(name + INT8)
            parts_s.append(name + SCALE)
        if len(consumers) == 1:
            packed_w, packed_s, product = parts_w[0], parts_s[0], consumers[0].output[0]
        else:  # one GEMM for the products of one input (Q, K and V): onnxruntime folds the Concats at load
            packed_w, packed_s, product = f"{p}.weights", f"{p}.scales", f"{p}.product"
            nodes += [
                helper.make_node("Concat", parts_w, [packed_w], axis=1, name=packed_w),
                helper.make_node("Concat", parts_s, [packed_s], axis=0, name=packed_s),
            ]
        nodes += [  # one kernel for the integer product and its column scales; the row scale stays apart (above)
            helper.make_node(
                "MatMulIntegerToFloat",
                [f"{p}.codes", packed_w, "tokenint8.one", packed_s, "tokenint8.zero_point"],
                [f"{p}.cols"],
                name=f"{p}.matmul",
                domain="com.microsoft",
            ),
            helper.make_node("Mul", [f"{p}.cols", f"{p}.scale"], [product], name=f"{p}.rows"),
        ]
        if len(consumers) > 1:
            sizes = np.array([w.shape[1] for w in weights], np.int64)
            new_inits.append(numpy_helper.from_array(sizes, f"{p}.split_sizes"))
            nodes.append(
                helper.make_node(
                    "Split", [product, f"{p}.split_sizes"], [n.output[0] for n in consumers], axis=-1, name=f"{p}.split"
                )
            )
        chains[x] = nodes
    replaced = {id(n) for consumers in targets.values() for n in consumers}
    out = []
    for node in model.graph.node:
        if id(node) in replaced:  # the chain takes the place of the first product of its input
            out += chains.pop(node.input[0], [])
        else:
            out.append(node)
    del model.graph.node[:]
    model.graph.node.extend(out)
    model.graph.initializer.extend(new_inits)
    return model


def products(model: onnx.ModelProto) -> list[tuple[str, str, np.ndarray, str]]:
    """Each product a chain stands for: (its input, its output, its (K, N) float weight with the smoothing undone,
    the chain's name)."""
    inits = {i.name: i for i in model.graph.initializer}
    by_name = {n.name: n for n in model.graph.node}
    found = []
    for node in model.graph.node:
        if node.op_type != "MatMulIntegerToFloat" or not node.name.endswith(".token.matmul"):
            continue
        p = node.name[: -len(".matmul")]
        smooth_node = by_name[p + ".smooth"]
        smooth = numpy_helper.to_array(inits[smooth_node.input[1]])
        split = by_name.get(p + ".split")
        parts = list(by_name[p + ".weights"].input) if split else [node.input[1]]
        outputs = list(split.output) if split else list(by_name[p + ".rows"].output)
        for part, output in zip(parts, outputs):
            base = part[: -len(INT8)]
            weight = (
                numpy_helper.to_array(inits[part]).astype(np.float32)
                * numpy_helper.to_array(inits[base + SCALE])[None, :]
                * smooth[:, None]
            )
            found.append((smooth_node.input[0], output, weight, p))
    return found


def as_float(model: onnx.ModelProto) -> onnx.ModelProto:
    """The graph with each chain as float MatMuls of its weights: the function the int8 graph approximates."""
    found = products(model)
    if not found:
        return model
    by_chain: dict[str, list[onnx.NodeProto]] = {}
    for i, (x, output, weight, chain) in enumerate(found):
        name = f"tokenint8.float{i}"
        model.graph.initializer.append(numpy_helper.from_array(weight, name))
        by_chain.setdefault(chain, []).append(helper.make_node("MatMul", [x, name], [output], name=f"{name}.matmul"))
    out = []
    for node in model.graph.node:
        owner = next((c for c in by_chain if node.name.startswith(c + ".")), None)
        if owner is None:
            out.append(node)
        else:  # a chain's float products go where the chain began: their input exists by then
            out += by_chain[owner]
            by_chain[owner] = []
    del model.graph.node[:]
    model.graph.node.extend(out)
    return model


def _quantize_weight(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    qmax = 2 ** (WEIGHT_BITS - 1) - 1
    scale = np.maximum(np.abs(weight).max(axis=0), 1e-12) / qmax
    codes = np.clip(np.round(weight / scale), -qmax, qmax).astype(np.int8)
    return codes, scale.astype(np.float32)


def _large_constant_matmul(node: onnx.NodeProto, inits: dict) -> bool:
    if node.op_type != "MatMul" or len(node.input) < 2 or node.input[1] not in inits:
        return False
    dims = inits[node.input[1]].dims
    return len(dims) == 2 and int(np.prod(dims)) >= MIN_WEIGHT_ELEMENTS


def _reduce_max(model: onnx.ModelProto, x: str, y: str, name: str) -> onnx.NodeProto:
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 18)
    if opset >= 18:
        return helper.make_node("ReduceMax", [x, "tokenint8.axes"], [y], keepdims=1, name=name)
    return helper.make_node("ReduceMax", [x], [y], axes=[-1], keepdims=1, name=name)


def _activation_absmax(
    model: onnx.ModelProto, tensors: list[str], calibration: list[dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Per-channel max |activation| of each tensor over the calibration feeds' real (unmasked) tokens."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    for name in tensors:
        if name not in known:
            probe.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    amax: dict[str, np.ndarray] = {}
    for feed in calibration:
        values = dict(zip(names, session.run(None, feed)))
        real = feed["attention_mask"].astype(bool)
        for name in tensors:
            act = np.abs(values[name])
            act = act[real] if act.shape[:2] == real.shape else act.reshape(-1, act.shape[-1])
            amax[name] = np.maximum(amax.get(name, 0), act.max(axis=0))
    return amax


def _split_attention(model: onnx.ModelProto, bias_names: dict[bytes, str]) -> onnx.ModelProto:
    """Each fused Attention (packed QKV weight and bias) as three MatMul + Add and a MultiHeadAttention, so Q, K and
    V become integer products; the biases take their original names where `bias_names` knows them."""
    inits = {i.name: i for i in model.graph.initializer}
    out: list[onnx.NodeProto] = []
    extra: list[onnx.TensorProto] = []
    for node in model.graph.node:
        if node.op_type != "Attention" or node.domain != "com.microsoft":
            out.append(node)
            continue
        x, w_name, b_name, mask = (list(node.input) + [""] * 4)[:4]
        heads = next(a.i for a in node.attribute if a.name == "num_heads")
        weight, bias = numpy_helper.to_array(inits[w_name]), numpy_helper.to_array(inits[b_name])
        hidden = weight.shape[1] // 3
        parts = []
        for i, role in enumerate(("q", "k", "v")):
            w = np.ascontiguousarray(weight[:, i * hidden : (i + 1) * hidden])
            b = np.ascontiguousarray(bias[i * hidden : (i + 1) * hidden])
            bname = bias_names.get(b.tobytes(), "")
            if not bname or bname in inits or bname in {e.name for e in extra}:
                bname = f"{node.name}.{role}.bias"
            wname = bname[: -len("bias")] + "weight"
            extra += [numpy_helper.from_array(w, wname), numpy_helper.from_array(b, bname)]
            out += [
                helper.make_node("MatMul", [x, wname], [f"{node.name}.{role}.xw"], name=f"{node.name}.{role}"),
                helper.make_node(
                    "Add",
                    [f"{node.name}.{role}.xw", bname],
                    [f"{node.name}.{role}.out"],
                    name=f"{node.name}.{role}.bias",
                ),
            ]
            parts.append(f"{node.name}.{role}.out")
        out.append(
            helper.make_node(
                "MultiHeadAttention",
                [*parts, "", mask],
                list(node.output[:1]),
                domain="com.microsoft",
                num_heads=heads,
                name=node.name,
            )
        )
        model.graph.initializer.remove(inits[w_name])
        model.graph.initializer.remove(inits[b_name])
    del model.graph.node[:]
    model.graph.node.extend(out)
    model.graph.initializer.extend(extra)
    return model
