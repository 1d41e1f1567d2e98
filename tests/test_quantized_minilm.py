"""Quantized all-MiniLM-L6-v2 artifacts against the fp32 model, on a slice of STS-B test."""

import collections

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from embedlite import Embedder, export
from embedlite.evaluation import sts_spearman


@pytest.fixture(scope="session")
def quantized(minilm_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("q") / "minilm"
    results = export(minilm_dir, out, precisions=("fp16", "int8", "int8-accurate", "int4"))
    return {r.manifest.precision: r for r in results}


@pytest.mark.parametrize(
    "precision, min_cos, max_sts_drop",
    [("fp16", 0.999, 0.001), ("int8", 0.95, 0.003), ("int8-accurate", 0.99, 0.002), ("int4", 0.8, 0.015)],
)
def test_quality_targets(quantized, embedder, sts_slice, precision, min_cos, max_sts_drop):
    q = Embedder(quantized[precision].path)
    texts = sts_slice.sentences1 + sts_slice.sentences2
    cos = np.sum(q.embed(texts) * embedder.embed(texts), axis=1)
    assert cos.min() >= min_cos
    assert sts_spearman(q, sts_slice) >= sts_spearman(embedder, sts_slice) - max_sts_drop


def test_int8_computes_in_int8_on_the_fused_graph(quantized):
    result = quantized["int8"]
    assert result.report["fused_ops"] == {"Attention": 6, "BiasGelu": 6}  # one per layer of the 6
    ops = collections.Counter(n.op_type for n in onnx.load(str(result.path / "model.onnx")).graph.node)
    # every projection is an integer GEMM (Q, K and V as one), the attention itself a float MultiHeadAttention
    assert ops["MatMulIntegerToFloat"] == 24 and ops["MultiHeadAttention"] == 6 and ops["MatMul"] == 0
    assert ops["QAttention"] == ops["DynamicQuantizeLinear"] == 0  # per-tensor scales: a vector would move
    accurate = collections.Counter(
        n.op_type for n in onnx.load(str(quantized["int8-accurate"].path / "model.onnx")).graph.node
    )
    assert accurate["MatMulNBits"] == 36  # weight-only, all 6 projections of 6 layers: float compute


def test_int8_weights_leave_headroom_for_cpus_without_vnni(quantized):
    """u8 activations x s8 weights are summed in pairs into 16 bits on x86 without VNNI (vpmaddubsw): 7-bit weights
    cannot saturate them (255 * 64 * 2 = 32640 <= 32767), 8-bit ones can (255 * 127 * 2 = 64770)."""
    model = onnx.load(str(quantized["int8"].path / "model.onnx"))
    inits = {i.name: i for i in model.graph.initializer}
    integer = [i for i in inits if i.endswith(".int8")]
    assert len(integer) == 36  # Q, K, V, attention output, FFN in and out of 6 layers
    for name in integer:
        weights = numpy_helper.to_array(inits[name])
        assert weights.dtype == np.int8 and -64 <= weights.min() and weights.max() <= 64, name


@pytest.mark.parametrize("precision", ["int8", "int8-accurate", "int4"])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_text_gets_one_vector_whatever_its_batch(quantized, sts_slice, precision, threads):
    """Alone, in a batch of 32 texts of mixed lengths, and in the reversed batch: the same vector (to the float
    parts' rounding, < 1e-6; the old int8's per-tensor activation scales moved it by up to 0.037)."""
    model = Embedder(quantized[precision].path, threads=threads)
    texts = [t for pair in zip(sts_slice.sentences1, sts_slice.sentences2) for t in pair][:32]
    batched = model.embed(texts, batch_size=32)
    alone = np.vstack([model.embed([t]) for t in texts])
    reversed_ = model.embed(texts[::-1], batch_size=32)[::-1]
    assert len({len(t.split()) for t in texts}) > 5  # mixed lengths: padding differs between the calls
    np.testing.assert_allclose(alone, batched, atol=1e-6, rtol=0)
    np.testing.assert_allclose(reversed_, batched, atol=1e-6, rtol=0)


def test_sizes(quantized, minilm_artifact):
    fp32 = (minilm_artifact / "model.onnx").stat().st_size
    assert quantized["int4"].report["bytes"] <= fp32 / 5
    assert quantized["int8"].report["bytes"] <= fp32 / 3
    assert quantized["int8-accurate"].report["bytes"] <= fp32 / 3
