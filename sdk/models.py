"""Find a model artifact from a name or path; convert sources into the user cache on first use."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from .artifact import MANIFEST
from .errors import EmbedliteError
from .sources import SOURCES, fetch

# The default: embedlite-small (recipes/embedlite-small.toml) as an ONNX artifact with int8 weights shipped inside
# the package (nothing to fetch or convert); it beat all-MiniLM-L6-v2 on the dev splits (MODEL_CARD.md), which is
# still converted (fp32) on first use by name.
DEFAULT_MODEL = "embedlite-small"
EMBEDDED = Path(__file__).parent / "default_model"
HUB_IDS = {s.hub_id: s.name for s in SOURCES.values()}


def home() -> Path:
    return Path(os.environ.get("EMBEDLITE_HOME") or Path.home() / ".cache" / "embedlite")


def resolve(model: str | Path | None) -> Path:
    """An artifact directory for `model`: the embedded default (None), a known source name, an artifact path, a
    sentence-transformers path or a hub id."""
    if model is None or str(model) == DEFAULT_MODEL:
        return default_artifact()
    name = HUB_IDS.get(str(model), str(model))
    if name in SOURCES:
        return cached_export(name, name, name=name, source_name=SOURCES[name].hub_id)
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
        raise EmbedliteError(f"model {model!r} not found{suggestion(str(model))}: give a known name (embedlite "
                             "models lists them), an artifact directory, a sentence-transformers directory or a hub "
                             "id like org/name")
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
    """The default model's artifact, embedded in the package: nothing to fetch or convert."""
    if not (EMBEDDED / MANIFEST).is_file():
        raise EmbedliteError(f"the embedded default model is missing from {EMBEDDED}: reinstall embedlite")
    return EMBEDDED


def source_dir(name: str) -> Path:
    """A known source model that ships as a sentence-transformers zip, unpacked once and sha256-checked."""
    if name not in SOURCES or SOURCES[name].kind != "zip":
        raise EmbedliteError(f"{name!r} is not a known sentence-transformers source; "
                             f"known: {', '.join(n for n, s in SOURCES.items() if s.kind == 'zip')}")
    return fetch(name, home() / "sources")


def known_names() -> list[str]:
    """Every model known by name: the embedded default, then the sources converted on first use."""
    return [DEFAULT_MODEL, *SOURCES]


def suggestion(name: str) -> str:
    """' (did you mean X?)' for a near miss of a known name, else ''."""
    import difflib

    names = known_names()
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]}?)" if close else ""


def catalog() -> list[dict]:
    """What `embedlite models` lists: name, dims, licence, where it comes from and whether it is here."""
    import json

    from .artifact import MANIFEST

    default = json.loads((EMBEDDED / MANIFEST).read_text(encoding="utf-8"))
    rows = [{"name": DEFAULT_MODEL, "dims": default["matryoshka_dims"], "license": "Apache-2.0",
             "source": "shipped in the package (recipes/embedlite-small.toml)", "status": "shipped (default)",
             "mb": round(sum(f["bytes"] for f in default["files"].values()) / 1e6, 1),
             "precision": default["precision"]}]
    for name, source in SOURCES.items():
        converted = (home() / "models" / name / MANIFEST).is_file()
        fetched = (home() / "sources" / name).is_dir()
        rows.append({"name": name, "dims": list(source.dims) or None, "license": source.license,
                     "source": f"{source.hub_id} (PyPI: {source.requirements[0].split('==')[0]}"
                               + (f", {len(source.requirements)} parts" if len(source.requirements) > 1 else "")
                               + ")",
                     "status": "converted" if converted else "fetched" if fetched else "fetched on first use",
                     "mb": round(source.size / 1e6, 1) if source.size else None, "precision": "fp32"})
    return rows
