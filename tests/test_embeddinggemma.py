"""EmbeddingGemma, as a random-weight replica of google/embeddinggemma-300m (its config, layout, prompts and the
Gemma 3 tokenizer): exported to ONNX and TFLite at fp32/int8/int4 and checked against sentence-transformers' own
encode_query / encode_document, at short inputs and at 1024 and 2048 tokens (where the +-256 sliding window of the
local layers matters), after a save/reload of the config, and with the tokenizer mistakes users meet."""

import json
import platform
import shutil
import subprocess
import sys

import numpy as np
import pytest

from embedlite import Embedder, EmbedliteError, export
from embedlite.artifact import NOTICE, parse_signature, read_manifest, signature_name
from embedlite.converters.parity import cosine_rows
from embedlite.runtimes.tokenizer import TextTokenizer
from fixtures.embeddinggemma import PROMPTS, config_json, gemma_tokenizer_json

QUERIES = ["which planet is the largest", "how do I reset my password?", "Wer hat das Telefon erfunden?"]
DOCS = [
    "Jupiter is the largest planet in the solar system.",
    "Open settings, then Account, then Reset.",
    "Alexander Graham Bell patented the telephone in 1876.",
]
TITLES = ["Planets", None, "Telefon"]
MIN_COSINE = {"fp32": 0.9999, "int8": 0.99, "int4": 0.85}  # int4 of random weights: measured 0.86-0.9
# TFLite int4 is a second conversion (the packed embedding table: 130 s of the 300 s the three took on 2 cores);
# CI converts fp32/int8 once, and the packed path is checked on a tiny BERT (test_tflite.py) and here when slow
# tests run (pytest -m slow)
CI_PRECISIONS = {"onnx": tuple(MIN_COSINE), "tflite": ("fp32", "int8")}
# The replica's TFLite exports take two lengths (five signatures instead of twenty-three): short texts at 32 tokens
# (the 32-row signature among them), longer ones, 1024 and 2048 tokens in the last; each signature is a trace and a
# conversion of its own (about 13 s on 2 cores, AMD EPYC with AVX2: a third bucket cost 55 s of the suite).
CI_BUCKETS = (32,)


def long_text(st, tokens: int) -> str:
    """STS-B-like sentences joined until the text is `tokens` long (prompt included, <bos>/<eos> included)."""
    words = (
        "A man is playing a guitar while a woman sings. The cat sleeps on the warm window sill. "
        "Stocks fell sharply after the announcement. "
    ).split()
    text, n = "", 0
    while n < tokens:
        text = " ".join(words * (len(text.split()) // len(words) + 2))
        n = len(st.tokenizer(PROMPTS["document"] + text)["input_ids"])
    cut = text.split()
    while len(st.tokenizer(PROMPTS["document"] + " ".join(cut))["input_ids"]) > tokens:
        cut = cut[:-1]
    return " ".join(cut)


@pytest.fixture(scope="module")
def long_texts(st_gemma):
    return {n: long_text(st_gemma, n) for n in (1024, 2048)}


@pytest.fixture(scope="module")
def gemma_exports(gemma_dir, tmp_path_factory):
    """format -> {precision: artifact}, each format exported once, when a test first asks for it."""
    done = {}

    def get(fmt: str, precisions: tuple[str, ...] | None = None) -> dict:
        precisions = precisions or CI_PRECISIONS[fmt]
        if (fmt, precisions) not in done:
            if fmt == "tflite":
                pytest.importorskip("litert_torch")
            out = tmp_path_factory.mktemp(f"gemma-{fmt}") / "out"
            done[fmt, precisions] = {
                r.manifest.precision: r.path
                for r in export(gemma_dir, out, formats=(fmt,), precisions=precisions, sequence_buckets=CI_BUCKETS)
            }
        return done[fmt, precisions]

    return get


@pytest.fixture(scope="module")
def gemma_onnx(gemma_exports):
    return gemma_exports("onnx")


def assert_close(reference: np.ndarray, ours: np.ndarray, precision: str) -> None:
    cos = cosine_rows(np.asarray(reference, np.float64), np.asarray(ours, np.float64))
    assert cos.min() >= MIN_COSINE[precision], cos


def test_replica_is_laid_out_like_embeddinggemma(gemma_dir, st_gemma):
    names = sorted(p.name for p in gemma_dir.iterdir())
    assert names == [
        "1_Pooling",
        "2_Dense",
        "3_Dense",
        "4_Normalize",
        "config.json",
        "config_sentence_transformers.json",
        "generation_config.json",
        "model.safetensors",
        "modules.json",
        "sentence_bert_config.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    config = json.loads((gemma_dir / "config.json").read_text())
    assert config["model_type"] == "gemma3_text" and config["use_bidirectional_attention"] is True
    assert (config["sliding_window"], config["query_pre_attn_scalar"]) == (512, 256)
    assert config["max_position_embeddings"] == 2048
    assert (config["rope_theta"], config["rope_local_base_freq"]) == (1e6, 1e4)
    assert config["layer_types"] == ["sliding_attention", "full_attention"]  # the tiny one: one layer of each kind
    assert config_json("308m")["layer_types"] == (["sliding_attention"] * 5 + ["full_attention"]) * 4
    assert {
        k: config_json("308m")[k]
        for k in (
            "hidden_size",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "intermediate_size",
            "num_hidden_layers",
        )
    } == {
        "hidden_size": 768,
        "num_attention_heads": 3,
        "num_key_value_heads": 1,
        "head_dim": 256,
        "intermediate_size": 1152,
        "num_hidden_layers": 24,
    }
    assert [type(m).__name__ for m in st_gemma] == ["Transformer", "Pooling", "Dense", "Dense", "Normalize"]
    pooling = json.loads((gemma_dir / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and pooling["include_prompt"]
    hidden = config["hidden_size"]
    assert [(st_gemma[i].linear.in_features, st_gemma[i].linear.out_features) for i in (2, 3)] == [
        (hidden, 4 * hidden),
        (4 * hidden, hidden),
    ]
    assert st_gemma.prompts == PROMPTS and len(PROMPTS) == 14 and st_gemma.max_seq_length == 2048
    assert st_gemma.tokenizer("Hello world")["input_ids"] == [2, 9259, 1902, 1]  # <bos> text <eos>
    assert st_gemma.tokenizer.padding_side == "right"


def test_artifact_tokenizer_bos_eos_and_2048_truncation(gemma_onnx, data_dir):
    manifest = read_manifest(gemma_onnx["fp32"])
    assert manifest.max_seq_length == 2048 and manifest.prompts == PROMPTS and manifest.architecture == "gemma3_text"
    tokenizer = TextTokenizer(gemma_onnx["fp32"] / "tokenizer.json", manifest.max_seq_length)
    (hello, long), truncated = tokenizer.encode(["Hello world", "東京😀ж" * 750])
    assert hello == [2, 9259, 1902, 1] and tokenizer.pad_id == 0
    assert len(long) == 2048 and long[0] == 2 and long[-1] == 1 and truncated == 1


def test_artifact_carries_the_gemma_notice(gemma_onnx, minilm_artifact):
    for path in gemma_onnx.values():
        notice = (path / NOTICE).read_text()
        assert "Gemma Terms of Use" in notice and "ai.google.dev/gemma/terms" in notice
        assert NOTICE in read_manifest(path).files  # checksummed with the model files
        assert read_manifest(path).license == "Gemma Terms of Use"
    assert not (minilm_artifact / NOTICE).exists() and read_manifest(minilm_artifact).license != "Gemma Terms of Use"


@pytest.mark.parametrize(
    ("fmt", "precision"),
    [(f, p) for f, ps in CI_PRECISIONS.items() for p in ps]
    + [pytest.param("tflite", "int4", marks=pytest.mark.slow, id="int4-tflite")],
)
def test_queries_and_documents_match_sentence_transformers(gemma_exports, st_gemma, fmt, precision):
    # TFLite: grouped-query attention (3 heads, 1 KV head) is traced through converters/grouped_attention.py
    artifacts = gemma_exports(fmt, (precision,) if precision not in CI_PRECISIONS[fmt] else None)
    e = Embedder(artifacts[precision], device="cpu")
    assert_close(st_gemma.encode_query(QUERIES), e.embed_query(QUERIES), precision)
    assert_close(st_gemma.encode_document(DOCS), e.embed_documents(DOCS), precision)
    titled = np.stack([st_gemma.encode(d, prompt=f"title: {t or 'none'} | text: ") for d, t in zip(DOCS, TITLES)])
    assert_close(titled, e.embed_documents(DOCS, titles=TITLES), precision)


def test_every_task_of_the_manifest_by_name(gemma_onnx, st_gemma):
    e = Embedder(gemma_onnx["fp32"], device="cpu")
    assert e.tasks == tuple(PROMPTS) and e.query_prompt == PROMPTS["query"]
    for task in PROMPTS:
        assert_close(st_gemma.encode(QUERIES[:1], prompt_name=task), e.embed(QUERIES[:1], task=task), "fp32")


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
@pytest.mark.parametrize("tokens", [1024, 2048])
def test_long_inputs_where_the_sliding_window_matters(gemma_exports, st_gemma, long_texts, fmt, tokens):
    text = long_texts[tokens]
    reference = st_gemma.encode_document([text])
    for precision, path in gemma_exports(fmt).items():
        assert_close(reference, Embedder(path, device="cpu").embed_documents([text]), precision)


def test_the_window_changes_long_inputs(gemma_dir, st_gemma, long_texts):
    """Without this, parity at 1024 tokens could not see a sliding window lost in export."""
    from sentence_transformers import SentenceTransformer

    windowless = SentenceTransformer(str(gemma_dir), device="cpu")
    windowless[0].auto_model.config.layer_types = ["full_attention"] * len(windowless[0].auto_model.config.layer_types)
    for layer in windowless[0].auto_model.layers:
        layer.attention_type = "full_attention"
        layer.self_attn.sliding_window = None
    text = [long_texts[1024]]
    assert cosine_rows(st_gemma.encode_document(text), windowless.encode_document(text))[0] < 0.9999


def test_config_save_reload_keeps_the_sliding_window(st_gemma, long_texts, tmp_path):
    """transformers halves sliding_window on load for bidirectional Gemma 3; a re-save must not halve it again."""
    from sentence_transformers import SentenceTransformer

    st_gemma.save(str(tmp_path / "resaved"))
    assert json.loads((tmp_path / "resaved" / "config.json").read_text())["sliding_window"] == 512
    reloaded = SentenceTransformer(str(tmp_path / "resaved"), device="cpu")
    assert reloaded[0].auto_model.config.sliding_window == st_gemma[0].auto_model.config.sliding_window
    # the graph the exporter traces, run in torch (its ONNX and TFLite conversions are checked at 1024 tokens above)
    import torch

    from embedlite.converters.source import load_source

    text = [long_texts[1024]]
    features = st_gemma.tokenizer([PROMPTS["document"] + text[0]], return_tensors="pt")
    with torch.no_grad():
        traced = load_source(tmp_path / "resaved").graph(features["input_ids"], features["attention_mask"])
    assert_close(st_gemma.encode_document(text), traced.numpy(), "fp32")


def test_fp16_refused(gemma_dir, tmp_path):
    with pytest.raises(EmbedliteError, match="overflow fp16"):
        export(gemma_dir, tmp_path / "x", precisions=("fp16",))


def test_tokenizer_without_eos_is_refused(gemma_dir, data_dir, tmp_path):
    """The Gemma 3 tokenizer.json as shipped adds <bos> only, and transformers ignores add_eos_token beside it."""
    broken = shutil.copytree(gemma_dir, tmp_path / "no-eos")
    shipped = gemma_tokenizer_json(data_dir / "gemma3-tokenizer" / "tokenizer.json", eos=False)
    (broken / "tokenizer.json").write_text(json.dumps(shipped), encoding="utf-8")
    with pytest.raises(EmbedliteError, match="does not add <eos>.*TemplateProcessing"):
        export(broken, tmp_path / "x")
    config = json.loads((broken / "tokenizer_config.json").read_text())
    (broken / "tokenizer.json").write_text(
        json.dumps(gemma_tokenizer_json(data_dir / "gemma3-tokenizer" / "tokenizer.json")), encoding="utf-8"
    )
    (broken / "tokenizer_config.json").write_text(json.dumps({**config, "padding_side": "left"}), encoding="utf-8")
    with pytest.raises(EmbedliteError, match="pads on the left"):
        export(broken, tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_mobile_bundle_parity_applies_prompts_as_python(gemma_exports, st_gemma, sts_slice, tmp_path):
    """parity.json of a Gemma bundle: what the Kotlin and Swift cores must reproduce, prompts and <bos>/<eos> in."""
    import shutil

    from embedlite.converters.mobile_bundle import EDGE_TEXTS, write_parity

    bundle = shutil.copytree(gemma_exports("tflite")["int8"], tmp_path / "bundle")
    texts = sts_slice.sentences1[:40]
    parity = json.loads(write_parity(bundle, texts).read_text(encoding="utf-8"))
    assert parity["texts"][:40] == texts and len(parity["texts"]) == 40 + len(EDGE_TEXTS)
    assert len(parity["embeddings"]) + len(parity["blank_embeddings"]) == len(parity["texts"])
    assert max(len(ids) for ids in parity["ids"]) == 2048 and all(ids[0] == 2 and ids[-1] == 1 for ids in parity["ids"])
    tokenizer = TextTokenizer(bundle / "tokenizer.json", 2048)
    queries, documents = parity["queries"], parity["documents"]
    assert queries["ids"][0] == tokenizer.encode([PROMPTS["query"] + texts[0]])[0][0]
    assert documents["titles"][0] == "Note 0" and documents["titles"][1] is None
    assert documents["ids"][0] == tokenizer.encode([f"title: Note 0 | text: {texts[0]}"])[0][0]
    assert documents["ids"][1] == tokenizer.encode([PROMPTS["document"] + texts[1]])[0][0]
    assert_close(st_gemma.encode_query(texts[: queries["count"]]), np.array(queries["embeddings"]), "int8")
    assert [case["top10"] for case in parity["store_ties"]] == [["a", "c", "b", "d"]] * 2


def tflite_operators(path) -> dict[str, list[tuple[str, list[list[int]], list[str]]]]:
    """signature -> its operators as (builtin name, input shapes, input types), read from the flatbuffer."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(path.read_bytes(), 0)
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    type_names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    out = {}
    for i in range(model.SignatureDefsLength()):
        signature = model.SignatureDefs(i)
        graph = model.Subgraphs(signature.SubgraphIndex())
        ops = []
        for j in range(graph.OperatorsLength()):
            op = graph.Operators(j)
            code = model.OperatorCodes(op.OpcodeIndex())
            inputs = [graph.Tensors(op.Inputs(k)) for k in range(op.InputsLength()) if op.Inputs(k) >= 0]
            ops.append(
                (
                    op_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())],
                    [t.ShapeAsNumpy().tolist() if t.ShapeLength() else [] for t in inputs],
                    [type_names[t.Type()] for t in inputs],
                )
            )
        out[signature.SignatureKey().decode()] = ops
    return out


def test_tflite_int8_gives_a_text_one_vector_whatever_its_batch(gemma_exports, sts_slice):
    """A float op that rounds differently in the batch-1 graph than in the batch-8 graph moves int8 roundings after
    it: on the real weights a text's vector moved by up to 8.1e-3 between the two (converters/grouped_attention.py
    says which ops, and how every signature now traces alike). The attention products are BATCH_MATMULs of the
    same (s, d) shapes in every signature, no FULLY_CONNECTED takes float weights, and a text alone, in a batch and
    in the reversed batch gets the same bits (32 short texts in the 32-row signature, which short lengths only
    have; the long ones in calls of 8 and 1)."""
    artifact = gemma_exports("tflite")["int8"]
    assert read_manifest(artifact).batch_buckets == (1, 8, 32)
    products = {}
    for name, ops in tflite_operators(artifact / "model.tflite").items():
        assert not [o for o in ops if o[0] == "FULLY_CONNECTED" and o[2][1] == "FLOAT32"], name
        products[name] = [shapes for kind, shapes, _ in ops if kind == "BATCH_MATMUL"]
    for name, shapes in products.items():
        batch, seq = parse_signature(name)
        assert shapes and all(a[0] == b[0] and a[0] % batch == 0 for a, b in shapes), name
        one = products[signature_name(1, seq)]
        assert [[a[1:], b[1:]] for a, b in shapes] == [[a[1:], b[1:]] for a, b in one], name
    assert {name for name in products if name.startswith("b32_")} == {"b32_s32"}
    model = Embedder(artifact, device="cpu", threads=2)
    texts = [t for pair in zip(sts_slice.sentences1, sts_slice.sentences2) for t in pair][:40]
    texts += ["word " * n for n in (40, 50, 60, 70)]
    assert sum(model.run_length(len(ids)) == 32 for ids in model.tokenize(texts, model.query_prompt)[0]) >= 24
    batched = model.embed_query(texts, batch_size=32)
    alone = np.vstack([model.embed_query([t]) for t in texts])
    reversed_ = model.embed_query(texts[::-1], batch_size=32)[::-1]
    np.testing.assert_array_equal(alone, batched)
    np.testing.assert_array_equal(reversed_, batched)


AVX2_SCRIPT = """
import sys, numkong, numpy as np
from embedlite import Embedder
caps = numkong.get_capabilities()  # from CPUID, which qemu emulates (its /proc/cpuinfo is the host's)
assert caps["haswell"] and not (caps["icelake"] or caps["alder"]), caps  # AVX2, no AVX-512 VNNI, no AVX-VNNI
texts = sys.argv[3:]
e = Embedder(sys.argv[1], device="cpu", threads=1)
np.save(sys.argv[2], np.concatenate([e.embed_query(texts[:3]), e.embed_documents(texts[3:])]))
"""


@pytest.mark.skipif(platform.machine() != "x86_64" or sys.platform != "linux", reason="emulates an x86-64 CPU")
def test_int8_keeps_its_vectors_on_a_cpu_without_vnni(gemma_onnx, st_gemma, tmp_path):
    """An x86 CPU without VNNI (AVX2: many laptops and cloud machines) sums u8 x s8 products in saturating 16-bit
    pairs; 8-bit weights lost accuracy there (min cosine 0.96 to sentence-transformers) and gave other vectors than
    a VNNI CPU. qemu emulates such a CPU (Haswell: AVX2, FMA, no AVX-512, no VNNI) for onnxruntime's own kernels."""
    qemu = shutil.which("qemu-x86_64")
    assert qemu, "qemu-x86_64 not found: apt-get install qemu-user (.ci/run installs it)"
    texts = QUERIES + DOCS  # short: emulated, a 1024-token text alone took 2 minutes
    out = tmp_path / "avx2.npy"
    run = subprocess.run(
        [qemu, "-cpu", "Haswell", sys.executable, "-c", AVX2_SCRIPT, str(gemma_onnx["int8"]), str(out), *texts],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    avx2 = np.load(out)
    native = Embedder(gemma_onnx["int8"], device="cpu", threads=1)
    here = np.concatenate([native.embed_query(QUERIES), native.embed_documents(DOCS)])
    assert cosine_rows(avx2.astype(np.float64), here.astype(np.float64)).min() >= 0.99999
    reference = np.concatenate([st_gemma.encode_query(QUERIES), st_gemma.encode_document(DOCS)])
    assert_close(reference, avx2, "int8")


def test_norms_and_gelus_run_as_one_op_each(gemma_onnx, gemma_dir):
    """Every RMSNorm (6 a layer and the last) and tanh GELU (1 a layer) of the exported graph is one onnxruntime op."""
    layers = json.loads((gemma_dir / "config.json").read_text())["num_hidden_layers"]
    for precision, path in gemma_onnx.items():
        fused = json.loads((path / "report.json").read_text())["fused_ops"]
        assert fused == {"FastGelu": layers, "SimplifiedLayerNormalization": 6 * layers + 1}, precision


@pytest.mark.parametrize("smoothed", [False, True])
def test_fused_norm_and_gelu_compute_what_their_chains_do(smoothed):
    """x -> RMSNorm (Pow, ReduceMean, Add, Sqrt, Reciprocal, Mul, Mul by its weight) -> tanh GELU, as the exporter
    writes them; smoothed: a per-channel Mul after the norm (int8's smoothing), which folds into the norm's weight."""
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    from embedlite.converters.decoder_fusion import fuse_decoder_ops

    rng = np.random.default_rng(0)
    consts = {
        "two": 2.0, "axes": np.array([-1]), "eps": 1e-6, "three": 3.0, "k": 0.044715, "c": 0.7978845608,
        "one": 1.0, "half": 0.5, "w": rng.normal(size=8), "s": rng.uniform(0.5, 2, size=8),
    }  # fmt: skip
    node = helper.make_node
    norm_out = "smoothed" if smoothed else "normed"
    nodes = [
        node("Pow", ["x", "two"], ["sq"]),
        node("ReduceMean", ["sq", "axes"], ["mean"]),
        node("Add", ["mean", "eps"], ["var"]),
        node("Sqrt", ["var"], ["std"]),
        node("Reciprocal", ["std"], ["inv"]),
        node("Mul", ["x", "inv"], ["scaled"]),
        node("Mul", ["scaled", "w"], ["normed"]),
        *([node("Mul", ["normed", "s"], ["smoothed"])] if smoothed else []),
        node("Pow", [norm_out, "three"], ["cube"]),
        node("Mul", ["k", "cube"], ["kc"]),
        node("Add", [norm_out, "kc"], ["inner"]),
        node("Mul", ["c", "inner"], ["arg"]),
        node("Tanh", ["arg"], ["t"]),
        node("Add", ["t", "one"], ["t1"]),
        node("Mul", ["t1", "half"], ["h"]),
        node("Mul", [norm_out, "h"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.asarray(v, np.int64 if k == "axes" else np.float32), k)
        for k, v in consts.items()
        if smoothed or k != "s"
    ]
    graph = helper.make_graph(
        nodes,
        "chains",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 5, 8])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 5, 8])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    x = rng.normal(size=(2, 5, 8)).astype(np.float32) * 3

    def run(m):
        return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    before = run(model)
    fused, counts = fuse_decoder_ops(model)
    assert counts == {"FastGelu": 1, "SimplifiedLayerNormalization": 1}
    assert [n.op_type for n in fused.graph.node] == ["SimplifiedLayerNormalization", "FastGelu"]
    assert sorted(i.name for i in fused.graph.initializer) == [f"{norm_out}.rms_weight"]
    np.testing.assert_allclose(run(fused), before, rtol=1e-5, atol=1e-6)
