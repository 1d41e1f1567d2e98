"""EmbeddingGemma architecture (Gemma3TextModel, bidirectional attention, two Dense layers) at a tiny config."""

import numpy as np
import pytest

from embedlite import EmbedliteError, Embedder, export
from fixtures.embeddinggemma import PROMPTS, build_embeddinggemma
from embedlite.artifact import read_manifest


@pytest.fixture(scope="module")
def gemma_dir(minilm_dir, tmp_path_factory):
    return build_embeddinggemma(tmp_path_factory.mktemp("gemma") / "st", "tiny", minilm_dir)


@pytest.fixture(scope="module")
def gemma_onnx(gemma_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("gemma-onnx") / "out"
    return {r.manifest.precision: r for r in export(gemma_dir, out, precisions=("fp32", "int8", "int4"),
                                                     dims=(64, 32), progress=lambda _: None)}


@pytest.mark.parametrize("precision, min_cos", [("fp32", 0.9999), ("int8", 0.99), ("int4", 0.85)])
def test_onnx_parity(gemma_onnx, precision, min_cos):
    assert gemma_onnx[precision].parity.min_cosine >= min_cos


def test_manifest_and_prompts_match_sentence_transformers(gemma_onnx, gemma_dir):
    from sentence_transformers import SentenceTransformer

    m = read_manifest(gemma_onnx["fp32"].path)
    assert m.architecture == "gemma3_text" and m.prompts == PROMPTS and m.dim == 64
    st = SentenceTransformer(str(gemma_dir), device="cpu")
    texts = ["which planet is the largest", "Jupiter is the largest planet in the solar system."]
    e = Embedder(gemma_onnx["fp32"].path)
    np.testing.assert_allclose(e.embed(texts[:1], task="query"), st.encode(texts[:1], prompt_name="query"), atol=1e-5)
    np.testing.assert_allclose(e.embed(texts[1:], task="document"), st.encode(texts[1:], prompt_name="document"),
                               atol=1e-5)
    assert e.embed(texts, dim=32).shape == (2, 32)


def test_fp16_refused(gemma_dir, tmp_path):
    with pytest.raises(EmbedliteError, match="overflow fp16"):
        export(gemma_dir, tmp_path / "x", precisions=("fp16",), progress=lambda _: None)


@pytest.fixture(scope="module")
def gemma_tflite(gemma_dir, tmp_path_factory):
    pytest.importorskip("litert_torch")
    out = tmp_path_factory.mktemp("gemma-tflite") / "out"
    return {r.manifest.precision: r for r in export(gemma_dir, out, formats=("tflite",),
                                                     precisions=("fp32", "int8", "int4"), progress=lambda _: None)}


@pytest.mark.parametrize("precision, min_cos", [("fp32", 0.9999), ("int8", 0.99), ("int4", 0.85)])
def test_tflite_parity(gemma_tflite, precision, min_cos):
    # grouped-query attention (3 heads, 1 KV head at 308M) is traced through converters/grouped_attention.py
    assert gemma_tflite[precision].parity.min_cosine >= min_cos
