"""TFLite artifacts of a small random BERT: static signatures, quantization, the LiteRT runtime."""

import shutil

import numpy as np
import pytest

pytest.importorskip("litert_torch")

from embedlite import ArtifactError, Embedder, EmbedliteError, export
from embedlite.artifact import read_manifest, signature_name, write_manifest
from embedlite.models import SHIPPED
from embedlite.training.student import random_bert as tiny_bert_st

MIN_COSINE = {"fp32": 0.9999, "fp16": 0.999, "int8": 0.98, "int4": 0.9}


@pytest.fixture(scope="module")
def tflite_artifacts(minilm_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tfl")
    src = tiny_bert_st(minilm_dir, tmp / "st", pooling="mean", dense_dim=None)
    # two lengths (16 and the max, 64) at batch 1, 8 and 32: every signature is a trace and a conversion of its own
    results = export(src, tmp / "out", formats=("tflite",), precisions=tuple(MIN_COSINE), sequence_buckets=(16,))
    return src, {r.manifest.precision: r for r in results}


@pytest.mark.parametrize("precision", list(MIN_COSINE))
def test_parity(tflite_artifacts, precision):
    _, results = tflite_artifacts
    assert results[precision].parity.min_cosine >= MIN_COSINE[precision]


@pytest.mark.parametrize("threads", [1, 2])
def test_int8_gives_a_text_one_vector_whatever_its_batch(tflite_artifacts, sts_slice, threads):
    """XNNPACK's dynamic-range int8 quantizes each row (token) of a product's input with that row's own scale: alone,
    in batches of 32 texts of mixed lengths (the 32-row signature among them) and in the reversed batches, a text
    gets the same vector."""
    _, results = tflite_artifacts
    model = Embedder(results["int8"].path, threads=threads)
    texts = [t for pair in zip(sts_slice.sentences1, sts_slice.sentences2) for t in pair][:60]
    texts += ["word " * 20, "word " * 40]  # the 64 bucket too
    assert sum(model.run_length(len(ids)) == 16 for ids in model.tokenize(texts)[0]) >= 32
    batched = model.embed(texts, batch_size=32)
    alone = np.vstack([model.embed([t]) for t in texts])
    reversed_ = model.embed(texts[::-1], batch_size=32)[::-1]
    assert len({len(t.split()) for t in texts}) > 5  # mixed lengths: padding and batch buckets differ between calls
    np.testing.assert_allclose(alone, batched, atol=1e-6, rtol=0)
    np.testing.assert_allclose(reversed_, batched, atol=1e-6, rtol=0)


def test_signatures_and_bucket_choice(tflite_artifacts):
    from sentence_transformers import SentenceTransformer

    src, results = tflite_artifacts
    m = read_manifest(results["fp32"].path)
    assert m.format == "tflite" and m.sequence_buckets == (16, 64) and m.batch_buckets == (1, 8, 32)
    e = Embedder(results["fp32"].path)
    # 11 texts: a batch of 8 and three of 1 (a bucket under 3/4 full gives way); a 52-token text needs the 64 bucket.
    texts = [f"sentence number {i}" for i in range(10)] + ["word " * 50]
    ref = SentenceTransformer(str(src), device="cpu").encode(texts)
    ours = e.embed(texts, batch_size=11)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_sizes_shrink(tflite_artifacts):
    _, results = tflite_artifacts
    sizes = {p: r.report["bytes"] for p, r in results.items()}
    # each of the 6 signatures keeps a few float constants of its own, a visible share of this tiny model
    assert sizes["fp16"] < sizes["fp32"] * 0.6 and sizes["int8"] < sizes["fp32"] * 0.6
    assert sizes["int4"] < sizes["int8"]
    # the vocabulary table (90% of this tiny model's floats) is packed to 4 bits too; with the table at 8 bits
    # it would be about 1/2.9 of fp32
    assert sizes["int4"] <= sizes["fp32"] / 4.4


def test_signatures_share_one_copy_of_each_weights_scales(tflite_artifacts):
    """ai-edge-quantizer writes a weight's per-channel scales into every signature's copy of the tensor;
    converters/tflite_flatbuffer.py writes them once and the signatures point at the one copy (int4's blockwise
    scales are tensors of their own, shared already)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel((tflite_artifacts[1]["int8"].path / "model.tflite").read_bytes(), 0)
    tables: dict[int, set[int]] = {}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            q = tensor.Quantization()
            if tensor.Buffer() and q is not None and q.ScaleLength() > 1:  # a weight, quantized per channel
                tables.setdefault(tensor.Buffer(), set()).add(q._tab.Pos)
    assert tables and all(len(positions) == 1 for positions in tables.values())
    assert model.SubgraphsLength() == 6


def _named_inside(path) -> tuple[int, int]:
    """(tensors, of them named but neither a graph's input or output nor in a signature's map) of a model.tflite."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    mapped = {(s.subgraphIndex, m.tensorIndex) for s in model.signatureDefs for m in (*s.inputs, *s.outputs)}
    tensors = inside = 0
    for g, graph in enumerate(model.subgraphs):
        ends = {*graph.inputs, *graph.outputs}
        tensors += len(graph.tensors)
        inside += sum(1 for i, t in enumerate(graph.tensors) if t.name and i not in ends and (g, i) not in mapped)
    return tensors, inside


@pytest.mark.parametrize("precision", list(MIN_COSINE))
def test_only_a_graphs_inputs_and_outputs_keep_their_names(tflite_artifacts, precision):
    """The converter names every intermediate tensor after its module path, once per signature (1.9 MB of the
    default's file); runtimes reach a signature through its own map, so converters/tflite_flatbuffer.py drops the
    rest, and the parity and batch tests above run on the result."""
    tensors, inside = _named_inside(tflite_artifacts[1][precision].path / "model.tflite")
    assert tensors > 100 and inside == 0


@pytest.mark.parametrize("name", [n for n, path in SHIPPED.items() if (path / "model.tflite").is_file()])
def test_the_shipped_litert_artifacts_are_compacted(name):
    """The shipped LiteRT files went through the same rewrite (small v3's: 28.4 -> 24.2 MB, the same bits out of
    all 10 signatures, compared on random ids, 2026-12-06; small v7's was exported with it)."""
    path = SHIPPED[name] / "model.tflite"
    tensors, inside = _named_inside(path)
    assert tensors > 1000 and inside == 0


def test_packed_embedding_is_blockwise_int4():
    import torch

    from embedlite.converters.packed_embedding import BLOCK, PackedEmbedding

    weight = torch.randn(50, 64) * 0.1
    weight[7, :BLOCK] = 0.0  # an all-zero block must not divide by zero
    table = PackedEmbedding(weight, embed_scale=2.0)
    assert table.packed.dtype == torch.int8 and table.packed.shape == (50, 32) and table.scales.shape == (50, 2)
    ids = torch.tensor([[7, 3, 49]])
    out = table(ids)
    step = table.scales[ids].repeat_interleave(BLOCK, -1)  # one quantization step per value
    assert torch.all((out / 2.0 - weight[ids]).abs() <= step / 2 + 1e-7)
    assert torch.all(out[0, 0, :BLOCK] == 0)


def test_corrupt_tflite_is_a_clear_error(tflite_artifacts, tmp_path):
    _, results = tflite_artifacts
    bad = tmp_path / "bad"
    shutil.copytree(results["int8"].path, bad)
    (bad / "model.tflite").write_bytes((bad / "model.tflite").read_bytes()[:5000])
    write_manifest(bad, read_manifest(bad, verify=False))  # checksums match the damage: the loader must cope
    with pytest.raises(ArtifactError, match="model.tflite could not be loaded"):
        Embedder(bad)


@pytest.mark.parametrize("device", ["gpu", "npu"])
def test_accelerator_embeds_like_cpu_or_says_what_is_missing(tflite_artifacts, device):
    from embedlite import EmbedliteError

    _, results = tflite_artifacts
    texts = ["an accelerated sentence", "and a second, longer one to pad against"]
    cpu = Embedder(results["fp32"].path, device="cpu").embed(texts)
    try:
        accelerated = Embedder(results["fp32"].path, device=device)
    except EmbedliteError as exc:  # CI machines have neither: the message names what LiteRT did not find
        assert f"device {device!r}" in str(exc) and device.upper() in str(exc) and "device='cpu'" in str(exc)
        return
    assert accelerated.device == device
    np.testing.assert_allclose(accelerated.embed(texts), cpu, atol=2e-3)  # GPUs may compute in fp16


def test_compiled_signature_runs_like_the_interpreter(tflite_artifacts):
    """CompiledSignature is the gpu/npu code path; LiteRT's CompiledModel runs it on the CPU here."""
    from embedlite.runtimes.litert import CompiledSignature, compiled_model, interpreter_class

    _, results = tflite_artifacts
    path = str(results["int8"].path / "model.tflite")
    model, interpreter = compiled_model(path, "cpu"), interpreter_class()(model_path=path)
    rng = np.random.default_rng(0)
    for batch, seq in ((1, 16), (32, 16), (8, 64)):
        name = signature_name(batch, seq)
        inputs = {
            "args_0": rng.integers(1000, 5000, (batch, seq), dtype=np.int32),
            "args_1": (np.arange(seq) < seq - 7).astype(np.int32)[None].repeat(batch, 0),
        }
        (ours,) = CompiledSignature(model, name)(**inputs).values()
        (ref,) = interpreter.get_signature_runner(name)(**inputs).values()
        assert ours.shape == ref.shape == (batch, 64)
        np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_fixed_dim_tflite_with_chosen_buckets(minilm_dir, tmp_path):
    src = tiny_bert_st(minilm_dir, tmp_path / "st", pooling="mean", dense_dim=None)
    with pytest.raises(EmbedliteError, match="sequence_buckets must be positive token counts; got 0"):
        export(src, tmp_path / "bad", formats=("tflite",), sequence_buckets=(16, 0))
    assert not (tmp_path / "bad").exists()
    (fixed,) = export(
        src, tmp_path / "fixed", formats=("tflite",), dims=(64, 32), output_dim=32, sequence_buckets=(128, 20)
    )
    assert fixed.manifest.sequence_buckets == (20, 64)  # sorted, the max length (64) added, none above it
    e = Embedder(fixed.path)
    v = e.embed(["a fixed-size vector", "another one", "word " * 40])
    assert e.dims == (32,) and v.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)  # re-normalised inside the graph
    assert fixed.parity.min_cosine >= 0.9999


def test_smoothing_keeps_the_float_function_and_flattens_the_products_inputs(tflite_artifacts):
    """SmoothQuant for LiteRT's int8: the smoothed BERT graph computes what the original computes, and the inputs of
    its products have a smaller spread of per-channel ranges (what a token's one int8 scale must cover)."""
    import torch

    from embedlite.converters.export import calibration_feeds
    from embedlite.converters.source import load_source
    from embedlite.converters.tflite_smoothing import _input_absmax, bert_layers, smoothed

    src, results = tflite_artifacts
    source = load_source(src)
    texts = [f"the {i}th sentence about tokens and their ranges" for i in range(16)]
    feeds = calibration_feeds(results["fp32"].path / "tokenizer.json", texts, source.max_seq_length)
    graph = smoothed(source.graph, feeds)
    ids, mask = (torch.from_numpy(feeds[0][k]).long() for k in ("input_ids", "attention_mask"))
    with torch.no_grad():
        torch.testing.assert_close(graph(ids, mask), source.graph(ids, mask), atol=1e-5, rtol=0)
    before = _input_absmax(source.graph, [bert_layers(source.graph)[0].intermediate], feeds)
    after = _input_absmax(graph, [bert_layers(graph)[0].intermediate.dense], feeds)
    spread = [float(a.max() / a.median()) for a in (*before.values(), *after.values())]
    assert spread[1] < spread[0]


def test_a_lone_row_runs_once_on_litert_and_paired_on_onnxruntime(tflite_artifacts, minilm_artifact):
    """onnxruntime runs a call of one row with other kernels, so the Embedder pairs a lone row with itself there;
    LiteRT's signatures give a row the same bits in a call of 1 or 8 (above), so it runs once."""
    _, results = tflite_artifacts
    for path, rows_per_call in ((results["int8"].path, 1), (minilm_artifact, 2)):
        model = Embedder(path)
        calls, run = [], model._model.embed
        model._model.embed = lambda ids, pad_id: (calls.append(len(ids)), run(ids, pad_id))[1]
        vectors = model.embed(["a short text", "word " * 40])  # two run lengths: each text alone in its call
        assert calls == [rows_per_call, rows_per_call] and vectors.shape[0] == 2, path
