"""The converter on real sentence-transformers directories: MiniLM and small random BERTs."""

import json

import numpy as np
import pytest

from embedlite import Embedder, EmbedliteError, export
from embedlite.artifact import read_manifest
from embedlite.training.student import random_bert as tiny_bert_st


@pytest.mark.parametrize("pooling, dense, normalize", [("cls", 48, True), ("max", None, False), ("mean", 32, True)])
def test_tiny_bert_export_matches_torch(minilm_dir, tmp_path, pooling, dense, normalize):
    from sentence_transformers import SentenceTransformer

    src = tiny_bert_st(minilm_dir, tmp_path / "st", pooling=pooling, dense_dim=dense, normalize=normalize)
    (result,) = export(src, tmp_path / "artifact")
    m = read_manifest(result.path)
    assert m.pooling == pooling and m.normalize == normalize and m.dim == (dense or 64)
    assert m.max_seq_length == 64
    texts = ["a short one", "a somewhat longer sentence with more words in it", ""]
    ours = Embedder(result.path, device="cpu").embed(texts)
    ref = SentenceTransformer(str(src), device="cpu").encode(texts)
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert result.parity.min_cosine >= 0.9999
    assert json.loads((result.path / "report.json").read_text())["parity"]["sentences"] == 40
    assert (result.path / "report.md").is_file()


def test_export_leaves_loggers_and_environment_as_found(minilm_dir, tmp_path):
    import logging
    import os

    src = tiny_bert_st(minilm_dir, tmp_path / "st", pooling="mean", dense_dim=None)
    before = (
        {n: logging.getLogger(n).level for n in ("torch", "absl", "onnxruntime.quantization")},
        os.environ.get("TF_CPP_MIN_LOG_LEVEL"),
    )
    export(src, tmp_path / "out", precisions=("int8",))
    after = (
        {n: logging.getLogger(n).level for n in ("torch", "absl", "onnxruntime.quantization")},
        os.environ.get("TF_CPP_MIN_LOG_LEVEL"),
    )
    assert after == before


def test_export_refuses_non_empty_output(minilm_dir, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(EmbedliteError, match="not empty"):
        export(minilm_dir, tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_export_rejects_bad_dims(minilm_dir, tmp_path):
    with pytest.raises(EmbedliteError, match=r"dims \[512\] are outside 1..384"):
        export(minilm_dir, tmp_path / "out", dims=(512, 128))


def test_not_a_sentence_transformers_dir(tmp_path):
    with pytest.raises(EmbedliteError, match="modules.json is missing"):
        export(tmp_path, tmp_path / "out")


def test_embedder_converts_st_directory_once(minilm_dir, minilm_artifact, monkeypatch):
    """A sentence-transformers directory given as `model` is converted into the cache, then reused."""
    from embedlite.models import resolve

    first = resolve(minilm_dir)
    assert (first / "manifest.json").is_file()
    mtime = (first / "model.onnx").stat().st_mtime_ns
    assert resolve(minilm_dir) == first and (first / "model.onnx").stat().st_mtime_ns == mtime
    a = Embedder(minilm_dir, device="cpu").embed(["same model, two routes"])
    b = Embedder(minilm_artifact, device="cpu").embed(["same model, two routes"])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_unknown_model_name_is_clear():
    with pytest.raises(EmbedliteError, match="not found"):
        Embedder("./no/such/model")


@pytest.mark.parametrize("precision, min_cos", [("fp16", 0.999), ("int8", 0.99), ("int4", 0.9)])
def test_tiny_bert_quantized(minilm_dir, tmp_path, precision, min_cos):
    src = tiny_bert_st(minilm_dir, tmp_path / "st", pooling="mean", dense_dim=None)
    (result,) = export(src, tmp_path / "a", precisions=(precision,))
    assert read_manifest(result.path).precision == precision
    assert result.parity.min_cosine >= min_cos


def test_fixed_output_dim(minilm_dir, tmp_path):
    src = tiny_bert_st(minilm_dir, tmp_path / "st", pooling="mean", dense_dim=None)
    (full,) = export(src, tmp_path / "full", dims=(64, 32))
    (fixed,) = export(src, tmp_path / "fixed", dims=(64, 32), output_dim=32)
    e = Embedder(fixed.path)
    assert e.dims == (32,) and e.embed(["x"]).shape == (1, 32)
    np.testing.assert_allclose(e.embed(["some text"]), Embedder(full.path).embed(["some text"], dim=32), atol=1e-5)
    with pytest.raises(EmbedliteError, match="output_dim 30"):
        export(src, tmp_path / "bad", dims=(64, 32), output_dim=30)


def test_several_targets_go_to_subdirectories(minilm_dir, tmp_path, capsys, caplog):
    src = tiny_bert_st(minilm_dir, tmp_path / "st", pooling="mean", dense_dim=None)
    with caplog.at_level("INFO", logger="embedlite.export"):
        results = export(src, tmp_path / "out", precisions=("fp32", "int8"))
    assert capsys.readouterr().out == ""  # a library call prints nothing; its steps are logged
    assert "writing onnx int8" in caplog.messages
    assert [r.path.name for r in results] == ["onnx-fp32", "onnx-int8"]
    assert all((r.path / "manifest.json").is_file() for r in results)
    assert not list((tmp_path / "out").glob("*.onnx"))


def test_unknown_precision_fails_before_work(tmp_path):
    with pytest.raises(EmbedliteError, match="unknown precision 'int3'"):
        export(tmp_path, tmp_path / "o", precisions=("int3",))


def test_public_export_forwards_to_the_one_signature_and_names_every_option():
    """embedlite.export forwards to embedlite.converters.export (the one signature); its docstring names every
    option, and an unknown one fails as the converters' own would."""
    import inspect

    import embedlite
    import embedlite.converters

    options = list(inspect.signature(embedlite.converters.export).parameters)[2:]
    assert all(option in embedlite.export.__doc__ for option in options), options
    with pytest.raises(TypeError, match="unexpected keyword argument 'precision'"):
        embedlite.export("m", "o", precision="int8")


def test_a_student_of_gemma_carries_its_terms_into_every_export(minilm_dir, tmp_path):
    """distill records the terms of what a student was made from (distill.json, NOTICE); export carries them."""
    from embedlite.models.catalog import derived_terms

    licence, notice = derived_terms("embeddinggemma-300m", "multilingual-e5-small")
    assert licence == "Gemma Terms of Use; MIT"
    assert "Gemma Terms of Use" in notice and "Permission is hereby granted" in notice  # both notices, whole
    assert derived_terms("all-mpnet-base-v2", "all-MiniLM-L6-v2") == ("", None)  # Apache-2.0 sources: no notice
    student = tiny_bert_st(minilm_dir, tmp_path / "student", hidden=32)
    (student / "distill.json").write_text(json.dumps({"license": licence}))
    (student / "NOTICE").write_text(notice)
    (artifact,) = export(student, tmp_path / "out")
    assert artifact.manifest.license == "Gemma Terms of Use; MIT"
    assert (artifact.path / "NOTICE").read_text() == notice and "NOTICE" in artifact.manifest.files


def test_a_built_recipe_model_exports_by_name_with_its_terms(tmp_path, monkeypatch):
    """A recipe's model (embedlite-tiny-v10: not shipped) is an error by name until it is built; once its int8
    artifact is in $EMBEDLITE_HOME/models, `export NAME` rebuilds it from that file (a 3-layer int8 graph, whose
    fusions fold a bias into SkipLayerNormalization) and keeps its name, licence and NOTICE."""
    import shutil

    from embedlite.converters.source import known_source
    from embedlite.models.catalog import derived_terms

    student = shutil.copytree(known_source("paraphrase-MiniLM-L3-v2"), tmp_path / "student")
    licence, notice = derived_terms("embeddinggemma-300m")
    (student / "distill.json").write_text(json.dumps({"license": licence}))
    (student / "NOTICE").write_text(notice)
    (built,) = export(student, tmp_path / "built", precisions=("int8",), name="embedlite-tiny-v10")
    monkeypatch.setenv("EMBEDLITE_HOME", str(tmp_path / "home"))
    with pytest.raises(EmbedliteError, match="not shipped and not built here.*embedlite-tiny-v10.toml"):
        export("embedlite-tiny-v10", tmp_path / "early")
    shutil.copytree(built.path, tmp_path / "home" / "models" / "embedlite-tiny-v10")
    (again,) = export("embedlite-tiny-v10", tmp_path / "again", precisions=("int8",))
    assert (again.manifest.name, again.manifest.license) == ("embedlite-tiny-v10", "Gemma Terms of Use")
    assert (again.path / "NOTICE").read_text() == notice
    texts = ["a cat sits on the mat", "the stock market fell sharply today"]
    ours, theirs = Embedder(again.path, device="cpu").embed(texts), Embedder(built.path, device="cpu").embed(texts)
    assert (ours * theirs).sum(axis=1).min() >= 0.99


def test_a_killed_exports_staging_folder_is_removed_by_the_next(minilm_dir, tmp_path):
    """An export killed mid-way leaves its staging folder beside the output; the next export into that folder
    removes the ones whose lock nobody holds and keeps a running one's (its lock held here)."""
    from embedlite.files.lock import exclusive

    stale, running = tmp_path / ".embedlite-export-killed", tmp_path / ".embedlite-export-running"
    for folder in (stale, running):
        folder.mkdir()
        (folder / "model.onnx").write_bytes(b"half written")
    src = tiny_bert_st(minilm_dir, tmp_path / "st", pooling="mean", dense_dim=None)
    with exclusive(running, "another export"):
        export(src, tmp_path / "out")
    assert not stale.exists() and running.is_dir()
    assert sorted(p.name for p in tmp_path.glob(".embedlite-export-*")) == [running.name]


_BUILD_THEN_HANG = """
import sys, time
from pathlib import Path
from embedlite.converters.source import built_once

def build(out):
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"half written")
    print("building", file=sys.__stdout__, flush=True)  # sys.stdout goes nowhere: the build runs quietly
    time.sleep(600)

built_once(Path(sys.argv[1]), build)
"""


def test_a_killed_model_builds_staging_folder_is_removed_by_the_next(tmp_path):
    """A known model rebuilt as a sentence-transformers folder (built_once) and killed with -9 mid-build leaves
    its staging folder; the next build of it removes that folder and puts the model in place."""
    import signal
    import subprocess
    import sys

    from embedlite.converters.source import built_once

    target = tmp_path / "sources" / "some-model-st"
    hung = subprocess.Popen([sys.executable, "-c", _BUILD_THEN_HANG, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert hung.stdout.readline().strip() == "building"
    finally:
        hung.send_signal(signal.SIGKILL)
        hung.wait()
    assert not target.exists() and len([p for p in target.parent.rglob("model.safetensors")]) == 1

    def build(out):
        out.mkdir()
        (out / "modules.json").write_text("[]")

    assert built_once(target, build) == target
    assert (target / "modules.json").read_text() == "[]"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
