"""A BERT sentence encoder that ships only as ONNX (exported by torch: weights are initializers) -> a
sentence-transformers directory, so it can be evaluated, quantized, exported and fine-tuned like any other."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embedlite.errors import EmbedliteError

MIN_COSINE = 0.9999  # the rebuilt model must reproduce the ONNX file's vectors


def bert_from_onnx(onnx_path: Path, tokenizer_dir: Path, out: Path, *, num_attention_heads: int,
                   max_seq_length: int, output: str, normalize: bool = False) -> Path:
    """Rebuild BertModel weights from the ONNX graph (each MatMul's weight is named by the bias added after it),
    save with mean pooling, and check the result against the ONNX file's own `output` (the pooled vector)."""
    import onnx
    import torch
    from onnx import numpy_helper
    from transformers import BertConfig, BertModel

    from .st_directory import save_sentence_transformer

    graph = onnx.load(str(onnx_path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    anchor = next((n for n in inits if n.endswith("embeddings.word_embeddings.weight")), None)
    if anchor is None:
        raise EmbedliteError(f"{onnx_path} has no BERT word-embedding table")
    prefix = anchor[: -len("embeddings.word_embeddings.weight")]
    weights = {n[len(prefix):]: a for n, a in inits.items() if n.startswith(prefix)}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        biases = [i for c in consumers.get(node.output[0], []) if c.op_type == "Add"
                  for i in c.input if i.startswith(prefix) and i.endswith(".bias")]
        if len(biases) != 1:
            raise EmbedliteError(f"{onnx_path}: cannot tell which layer the MatMul {node.name} belongs to")
        weights[biases[0][len(prefix):-len("bias")] + "weight"] = inits[node.input[1]].T
    vocab, hidden = weights["embeddings.word_embeddings.weight"].shape
    config = BertConfig(
        vocab_size=vocab, hidden_size=hidden, num_attention_heads=num_attention_heads,
        num_hidden_layers=len({k.split(".")[2] for k in weights if k.startswith("encoder.layer.")}),
        intermediate_size=weights["encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=weights["embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=weights["embeddings.token_type_embeddings.weight"].shape[0])
    model = BertModel(config, add_pooling_layer=False)
    state = {k: torch.from_numpy(np.array(v)) for k, v in weights.items()}  # a copy: the initializers are read-only
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise EmbedliteError(f"{onnx_path}: weights do not fit a BERT encoder (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]})")
    save_sentence_transformer(model, tokenizer_dir, out, max_seq_length=max_seq_length, normalize=normalize)
    _check_against_onnx(onnx_path, output, out)
    return out


def _check_against_onnx(onnx_path: Path, output: str, st_dir: Path) -> None:
    import onnxruntime as ort
    from sentence_transformers import SentenceTransformer

    from .parity import compare, default_sentences

    texts = default_sentences()
    model = SentenceTransformer(str(st_dir), device="cpu")
    features = model.tokenizer(texts, padding=True, truncation=True, max_length=model.max_seq_length,
                               return_tensors="np")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (reference,) = session.run([output], {"input_ids": features["input_ids"].astype(np.int64),
                                          "attention_mask": features["attention_mask"].astype(np.int64)})
    parity = compare(reference, model.encode(texts, convert_to_numpy=True))
    if parity.min_cosine < MIN_COSINE:
        raise EmbedliteError(f"the model rebuilt from {onnx_path} differs from it: {parity.line()}")
