import json
import shutil

import pytest

from embedlite import ArtifactError, Embedder
from embedlite.artifact import read_manifest


@pytest.fixture()
def artifact_copy(minilm_artifact, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(minilm_artifact, target)
    return target


def test_manifest_names_what_a_runtime_needs(minilm_artifact):
    m = read_manifest(minilm_artifact)
    assert (m.name, m.format, m.precision, m.pooling, m.dim) == ("all-MiniLM-L6-v2", "onnx", "fp32", "mean", 384)
    assert m.normalize and m.max_seq_length == 256
    assert m.matryoshka_dims == (384, 256, 128, 64)
    assert set(m.files) == {"model.onnx", "tokenizer.json"}
    assert all(len(f["sha256"]) == 64 for f in m.files.values())


def test_flipped_byte_fails_checksum(artifact_copy):
    path = artifact_copy / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="model.onnx fails its sha256"):
        Embedder(artifact_copy)


def test_truncated_file_is_named(artifact_copy):
    path = artifact_copy / "tokenizer.json"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ArtifactError, match="tokenizer.json is 1000 bytes.*truncated"):
        Embedder(artifact_copy)


def test_missing_manifest(artifact_copy):
    (artifact_copy / "manifest.json").unlink()
    with pytest.raises(Exception, match="neither an embedlite artifact"):
        Embedder(artifact_copy)
    with pytest.raises(ArtifactError, match="manifest.json is missing"):
        read_manifest(artifact_copy)


def test_unknown_format_version(artifact_copy):
    path = artifact_copy / "manifest.json"
    data = json.loads(path.read_text())
    data["format_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="format_version 99"):
        Embedder(artifact_copy)


def test_garbage_manifest(artifact_copy):
    (artifact_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        Embedder(artifact_copy)


def test_corrupt_model_with_matching_manifest_is_a_clear_error(artifact_copy):
    from embedlite.artifact import read_manifest, write_manifest

    (artifact_copy / "model.onnx").write_bytes(b"\x08\x07garbage" * 100)
    write_manifest(artifact_copy, read_manifest(artifact_copy, verify=False))
    with pytest.raises(ArtifactError, match="model.onnx could not be loaded by onnxruntime"):
        Embedder(artifact_copy)


def test_manifest_dim_that_is_not_the_models_is_named(artifact_copy):
    import dataclasses

    from embedlite.artifact import write_manifest

    manifest = read_manifest(artifact_copy)
    write_manifest(artifact_copy, dataclasses.replace(manifest, dim=512, matryoshka_dims=(512, 256)))
    with pytest.raises(ArtifactError, match=r"returns vectors of shape \(384,\), but manifest.json says dim 512"):
        Embedder(artifact_copy, device="cpu").embed(["x"])


def test_manifest_naming_files_outside_the_artifact_is_refused(artifact_copy, tmp_path):
    """A manifest could name "../../etc/passwd", or a link leading out; it was read and hashed on every load."""
    manifest = json.loads((artifact_copy / "manifest.json").read_text())
    outside = tmp_path / "secret.txt"
    outside.write_text("not the model's")
    (artifact_copy / "link.txt").symlink_to(outside)
    for name in ("../secret.txt", str(outside), "link.txt"):
        files = {**manifest["files"], name: {"sha256": "0" * 64, "bytes": 15}}
        (artifact_copy / "manifest.json").write_text(json.dumps({**manifest, "files": files}))
        with pytest.raises(ArtifactError, match="outside the artifact directory"):
            read_manifest(artifact_copy)


def test_manifest_fields_of_the_wrong_type_are_named(artifact_copy):
    """A "dim": "384" or a "files" list loaded, then failed far from the file (or with a bare TypeError)."""
    manifest = json.loads((artifact_copy / "manifest.json").read_text())
    for key, value, kind in [
        ("dim", "384", "a positive integer"),
        ("normalize", "yes", "true or false"),
        ("matryoshka_dims", 384, "a list of positive integers"),
        ("files", ["model.onnx"], "an object of"),
        ("prompts", {"query": 1}, "an object of texts"),
        ("name", None, "text"),
    ]:
        (artifact_copy / "manifest.json").write_text(json.dumps({**manifest, key: value}))
        with pytest.raises(ArtifactError, match=f"manifest.json: {key} must be {kind}"):
            read_manifest(artifact_copy)


def test_an_onnx_graph_with_two_outputs_is_refused_at_load(tmp_path):
    """It loaded, then every request failed with 'too many values to unpack'."""
    from onnx import TensorProto, helper, save

    from embedlite.runtimes.onnx import OnnxModel

    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "s"])
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["b", "s"]) for name in ("pooled", "tokens")]
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["pooled"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["attention_mask"], ["tokens"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(nodes, "two_outputs", [ids, mask], outputs)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "model.onnx")
    with pytest.raises(
        ArtifactError,
        match=r"model.onnx has 2 outputs \['pooled', 'tokens'\]; an embedlite model "
        "has one",
    ):
        OnnxModel(tmp_path / "model.onnx", device="cpu")


def test_every_artifact_format_has_a_runtime():
    """The tables that name formats in two layers agree (a format added to one only fails)."""
    from embedlite.artifact import MODEL_FILES
    from embedlite.runtimes import RUNTIMES

    assert set(RUNTIMES) == set(MODEL_FILES)
