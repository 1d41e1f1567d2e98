"""A BERT sentence encoder that ships only as ONNX -> a sentence-transformers directory, so it can be evaluated,
quantized, exported and fine-tuned like any other: a plain fp32 graph exported by torch (weights are
initializers), or an embedlite artifact with quantized weights (int8-accurate: MatMulNBits blocks; int8: the
per-token chains of token_int8; both with an int8 per-row word-embedding table), whose weights are dequantized as
onnxruntime dequantizes them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from embedlite.errors import EmbedliteError

from .token_int8 import CHAIN_PARTS, as_float, products
from .weight_dequant import float_initializers, matmul_nbits_weight

MIN_COSINE = 0.9999  # the rebuilt model must reproduce the ONNX file's vectors
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
ACTIVATIONS = ("Tanh", "Relu", "Sigmoid", "Gelu", "Erf")  # after a Dense layer: not rebuilt here


def bert_from_onnx(
    onnx_path: Path,
    tokenizer_dir: Path,
    out: Path,
    *,
    max_seq_length: int,
    output: str,
    num_attention_heads: int | None = None,
    pooling: str = "mean",
    normalize: bool = False,
    prompts: dict[str, str] | None = None,
) -> Path:
    """Rebuild BertModel weights from the ONNX graph (each MatMul's weight is named by the bias added after it)
    and the linear layers after pooling (Gemm, without activation) as Dense modules; save with `pooling` (and
    Normalize), and check the result against the ONNX file's own `output` (the pooled vector).
    num_attention_heads: read from the graph's head reshape where not given."""
    import onnx
    import torch
    from sentence_transformers.models import Dense
    from transformers import BertConfig, BertModel

    from .st_directory import save_sentence_transformer

    model_proto = onnx.load(str(onnx_path))
    graph = model_proto.graph
    inits = float_initializers(graph)
    anchor = next((n for n in inits if n.endswith(WORD_EMBEDDINGS)), None)
    if anchor is None:
        raise EmbedliteError(f"{onnx_path} has no BERT word-embedding table")
    prefix = anchor[: -len(WORD_EMBEDDINGS)]
    weights = {n[len(prefix) :]: a for n, a in inits.items() if n.startswith(prefix) and not n.endswith(CHAIN_PARTS)}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    denses = []
    for node in graph.node:
        weight = _linear_weight(node, inits)  # (out, in), as torch's Linear holds it
        if weight is None:
            continue
        if node.op_type == "Gemm":  # torch's exporter spells the 2-d linear layers after pooling as Gemm
            denses.append(_dense(node, weight, inits, consumers, onnx_path))
            continue
        if len(node.input) > 5 and node.input[5]:  # MatMulNBits with its bias folded in
            biases = [node.input[5]]
        else:  # the bias is added after the product (Add), or inside the fused BiasGelu
            biases = _biases(node.output[0], consumers, prefix)
        if len(biases) != 1:
            raise EmbedliteError(f"{onnx_path}: cannot tell which layer the {node.op_type} {node.name} belongs to")
        weights[biases[0][len(prefix) : -len("bias")] + "weight"] = weight
    for _, product, weight, chain in products(model_proto):  # int8's per-token chains
        biases = _biases(product, consumers, prefix)
        if len(biases) != 1:
            raise EmbedliteError(f"{onnx_path}: cannot tell which layer the int8 product {chain} belongs to")
        weights[biases[0][len(prefix) : -len("bias")] + "weight"] = weight.T
    vocab, hidden = weights["embeddings.word_embeddings.weight"].shape
    heads = num_attention_heads or _attention_heads(graph, inits, hidden, onnx_path)
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_hidden_layers=len({k.split(".")[2] for k in weights if k.startswith("encoder.layer.")}),
        intermediate_size=weights["encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=weights["embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=weights["embeddings.token_type_embeddings.weight"].shape[0],
    )
    model = BertModel(config, add_pooling_layer=False)
    state = {k: torch.from_numpy(np.array(v)) for k, v in weights.items()}  # a copy: the initializers are read-only
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    unexpected = [k for k in unexpected if not k.endswith("position_ids")]
    if missing or unexpected:
        raise EmbedliteError(
            f"{onnx_path}: weights do not fit a BERT encoder (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    after_pooling = []
    for weight, bias in denses:
        dense = Dense(weight.shape[1], weight.shape[0], bias=bias is not None, activation_function=torch.nn.Identity())
        with torch.no_grad():
            dense.linear.weight.copy_(torch.from_numpy(np.array(weight)))
            if bias is not None:
                dense.linear.bias.copy_(torch.from_numpy(np.array(bias)))
        after_pooling.append(dense)
    save_sentence_transformer(
        model,
        tokenizer_dir,
        out,
        max_seq_length=max_seq_length,
        pooling=pooling,
        after_pooling=tuple(after_pooling),
        normalize=normalize,
        prompts=prompts,
    )
    _check_against_onnx(onnx_path, output, out)
    return out


def _biases(product: str, consumers: dict, prefix: str) -> list[str]:
    """The bias added to a product: by an Add, inside the fused BiasGelu, or as a SkipLayerNormalization's bias (its
    fifth input; the fourth is the norm's own beta). The fusions leave that last one in the int8 graphs of 3-layer
    students (paraphrase-MiniLM-L3-v2's and embedlite-tiny's), not in the 6-layer ones'."""
    found = []
    for c in consumers.get(product, []):
        if c.op_type in ("Add", "BiasGelu"):
            inputs = list(c.input)
        elif c.op_type == "SkipLayerNormalization":
            inputs = list(c.input[4:5])
        else:
            continue
        found += [i for i in inputs if i.startswith(prefix) and i.endswith(".bias")]
    return found


def _linear_weight(node, inits: dict[str, np.ndarray]) -> np.ndarray | None:
    """The (out, in) weight of a MatMul / MatMulNBits / Gemm with a constant weight, else None."""
    if len(node.input) < 2 or node.input[1] not in inits:
        return None
    if node.op_type == "MatMul":
        return inits[node.input[1]].T
    if node.op_type == "MatMulNBits":
        return matmul_nbits_weight(node, inits)
    if node.op_type == "Gemm":
        from onnx import helper

        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            raise EmbedliteError(f"Gemm {node.name}: only transB, alpha = beta = 1 is rebuilt as a Dense layer")
        w = inits[node.input[1]]
        return w if attrs.get("transB", 0) else w.T
    return None


def _dense(node, weight: np.ndarray, inits: dict, consumers: dict, onnx_path: Path):
    """(weight, bias) of a linear layer after pooling; refuses one followed by an activation."""
    following = [c.op_type for c in consumers.get(node.output[0], [])]
    if any(op in ACTIVATIONS for op in following):
        raise EmbedliteError(
            f"{onnx_path}: the layer {node.name} after pooling has an activation "
            f"({', '.join(following)}), which is not rebuilt"
        )
    bias = inits.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    return weight, bias


def _attention_heads(graph, inits: dict[str, np.ndarray], hidden: int, onnx_path: Path) -> int:
    """hidden / head size, the head size being the constant last element of the 4-d shapes the attention reshapes
    its projections to (a Concat of constants, as torch exports it, or one constant shape)."""
    from onnx import numpy_helper

    heads = {a.i for n in graph.node if n.op_type == "MultiHeadAttention" for a in n.attribute if a.name == "num_heads"}
    if len(heads) == 1:
        return heads.pop()
    consts = dict(inits)
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].type == node.attribute[0].TENSOR:
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    producers = {o: n for n in graph.node for o in n.output}
    sizes: Counter[int] = Counter()
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        shape = node.input[1]
        if shape in consts:
            last = consts[shape].ravel()
            size = int(last[-1]) if last.size == 4 else 0
        elif shape in producers and producers[shape].op_type == "Concat" and len(producers[shape].input) == 4:
            tail = consts.get(producers[shape].input[-1])
            size = int(tail.ravel()[-1]) if tail is not None and tail.size == 1 else 0
        else:
            continue
        if 0 < size < hidden and hidden % size == 0:
            sizes[size] += 1
    if not sizes:
        raise EmbedliteError(f"{onnx_path}: cannot tell the number of attention heads from the graph")
    return hidden // sizes.most_common(1)[0][0]


def _check_against_onnx(onnx_path: Path, output: str, st_dir: Path) -> None:
    import onnx
    import onnxruntime as ort
    from sentence_transformers import SentenceTransformer

    from .parity import compare, default_sentences

    texts = default_sentences()
    model = SentenceTransformer(str(st_dir), device="cpu")
    features = model.tokenizer(
        texts, padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="np"
    )
    options = ort.SessionOptions()
    # the float graph leaves the int8 weights' scales unused: onnxruntime logged a line for each (over a hundred
    # lines on the terminal of `embedlite export embedlite-small-v10-litert`)
    options.log_severity_level = 3
    session = ort.InferenceSession(
        float_compute(onnx.load(str(onnx_path))).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    (reference,) = session.run(
        [output],
        {
            "input_ids": features["input_ids"].astype(np.int64),
            "attention_mask": features["attention_mask"].astype(np.int64),
        },
    )
    parity = compare(reference, model.encode(texts, convert_to_numpy=True))
    if parity.min_cosine < MIN_COSINE:
        raise EmbedliteError(f"the model rebuilt from {onnx_path} differs from it: {parity.line()}")


def float_compute(model):
    """`model` multiplying in float: the function its weights define. int8's per-token chains become float MatMuls;
    MatMulNBits get accuracy_level 0. At the int8-accurate artifacts' accuracy_level 4, onnxruntime also rounds the
    activations to int8 blocks where the CPU has the kernels, which no float model reproduces: embedlite-small
    rebuilt gives min cosine 1.000000 to the float-compute graph, 0.99976 to the graph as shipped (40 parity
    sentences, AVX2 without VNNI)."""
    model = as_float(model)
    for node in model.graph.node:
        if node.op_type == "MatMulNBits":
            for attr in node.attribute:
                if attr.name == "accuracy_level":
                    attr.i = 0
    return model
