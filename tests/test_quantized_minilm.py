"""Quantized all-MiniLM-L6-v2 artifacts against the fp32 model, on a slice of STS-B test."""

import numpy as np
import pytest

from embedlite import Embedder, export
from embedlite.evaluation import sts_spearman


@pytest.fixture(scope="session")
def quantized(minilm_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("q") / "minilm"
    return {r.manifest.precision: r for r in export(minilm_dir, out, precisions=("fp16", "int8", "int4"),
                                                     progress=lambda _: None)}


@pytest.mark.parametrize("precision, min_cos, max_sts_drop", [("fp16", 0.999, 0.001), ("int8", 0.98, 0.003),
                                                               ("int4", 0.8, 0.015)])
def test_quality_targets(quantized, embedder, sts_slice, precision, min_cos, max_sts_drop):
    q = Embedder(quantized[precision].path)
    texts = sts_slice.sentences1 + sts_slice.sentences2
    cos = np.sum(q.embed(texts) * embedder.embed(texts), axis=1)
    assert cos.min() >= min_cos
    assert sts_spearman(q, sts_slice) >= sts_spearman(embedder, sts_slice) - max_sts_drop


def test_sizes(quantized, default_artifact):
    fp32 = (default_artifact / "model.onnx").stat().st_size
    assert quantized["int4"].report["bytes"] <= fp32 / 5
    assert quantized["int8"].report["bytes"] <= fp32 / 3
