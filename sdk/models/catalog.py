"""Find a model artifact from a name or path; convert sources into the user cache on first use."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from ..artifact import MANIFEST, NOTICE, read_manifest
from ..errors import EmbedliteError
from .sources import SOURCES, fetch

# Every artifact shipped inside the package (embedlite/shipped/NAME), by name: it loads as it is (nothing to fetch
# or convert), and exports to other formats and precisions from a sentence-transformers directory rebuilt from its
# weights (converters/onnx_import.py). A shipped name stands for one set of weights for good: stores and vector
# files record the model by name (and dim), so a new default gets a new name and the old name keeps resolving to
# the old weights (else a store made with it would mix two models' vectors without a word).
SHIPPED_DIR = Path(__file__).parent.parent / "shipped"
SHIPPED = {
    # small v10's weights (recipes/embedlite-small-v10.toml: small v7's recipe trained for two epochs) as a LiteRT
    # int8 artifact, as small v7's below: the default since 2026-12-07 (MODEL_CARD.md)
    "embedlite-small-v10-litert": SHIPPED_DIR / "embedlite-small-v10-litert",
    # the same weights as an ONNX int8 artifact: where LiteRT does not install, and what exports of the default
    # are made from
    "embedlite-small-v10": SHIPPED_DIR / "embedlite-small-v10",
    # small v7's weights (recipes/embedlite-small-v7.toml: small v3's recipe with its output centred) as a LiteRT
    # int8 artifact, as small v3's below: the default on 2026-12-06 and 07 (STS-B test as shipped 0.8475, v3's
    # 0.8411): kept for the stores made with it
    "embedlite-small-v7-litert": SHIPPED_DIR / "embedlite-small-v7-litert",
    # the same weights as an ONNX int8 artifact: where LiteRT does not install, and what exports of the default
    # are made from
    "embedlite-small-v7": SHIPPED_DIR / "embedlite-small-v7",
    # small v3's weights as a LiteRT (TFLite) int8 artifact: per-token int8 through XNNPACK, 1.2x the ONNX int8's
    # sentences/s at batch 32 and 0.7x its batch-1 latency (benchmarks/results/peers_vnni_litert.md); the default
    # from 2026-12-05 to 2026-12-06: kept for the stores made with it
    "embedlite-small-v3-litert": SHIPPED_DIR / "embedlite-small-v3-litert",
    # distilled from EmbeddingGemma-300m (recipes/embedlite-small-v3.toml): a Gemma Model Derivative; the default
    # from 2026-12-04 to 2026-12-05 (ONNX int8): kept for the stores made with it and where LiteRT does not install
    "embedlite-small-v3": SHIPPED_DIR / "embedlite-small-v3",
    # small v3's predecessor (recipes/embedlite-small-v2.toml), the default from 2026-12-03 to 2026-12-04: kept for
    # the stores made with it; a Gemma Model Derivative
    "embedlite-small-v2": SHIPPED_DIR / "embedlite-small-v2",
    # distilled from all-mpnet-base-v2 (recipes/embedlite-small.toml): Apache-2.0; the default until 2026-12-03
    "embedlite-small": SHIPPED_DIR / "embedlite-small",
}
# Shipped artifacts of the same weights in another format: exports of the first are made from the second's weights.
SAME_WEIGHTS = {
    "embedlite-small-v10-litert": "embedlite-small-v10",
    "embedlite-small-v7-litert": "embedlite-small-v7",
    "embedlite-small-v3-litert": "embedlite-small-v3",
}
# The default: embedlite-small-v10's weights at per-token int8 on LiteRT, the best student on the dev splits
# (MODEL_CARD.md).
DEFAULT_MODEL = "embedlite-small-v10-litert"
EMBEDDED = SHIPPED[DEFAULT_MODEL]
# The licence of a shipped artifact whose manifest predates the `license` field: the Apache-2.0 embedlite-small
# (recipes/embedlite-small.toml: initialised from all-MiniLM-L6-v2, distilled from all-mpnet-base-v2, both Apache-2.0).
UNSTATED_SHIPPED_LICENSE = "Apache-2.0"
HUB_IDS = {s.hub_id: s.name for s in SOURCES.values()}


@dataclass(frozen=True)
class Recipe:
    """A model embedlite does not ship (it misses a bar its issue sets, or is too large for the package) but that
    its repository's recipe builds: known by name once built and exported into $EMBEDLITE_HOME/models/NAME."""

    recipe: str  # the TOML file in the embedlite repository
    license: str
    languages: str
    dims: tuple[int, ...]
    minutes: int  # its build on 2 CPU cores, teacher pass included, as measured
    parity_texts: str | None = None  # what its export calibrates and is checked on (None: the built-in English)

    def build_commands(self, name: str) -> str:
        output = f"build/models/{name}"
        texts = f"--parity-texts {self.parity_texts} " if self.parity_texts else ""
        return (
            f"embedlite distill --config {self.recipe} && embedlite export {output} --precision int8 "
            f"{texts}--name {name} -o {home() / 'models' / name}"
        )


# EmbeddingGemma's student on multilingual-e5-small (MIT): STS in de/es/fr/ja/zh and cross-lingual retrieval
# between e5's and EmbeddingGemma's; 56 MB at int8 (MODEL_CARD.md, "embedlite-multilingual")
_MULTILINGUAL = Recipe(
    "recipes/embedlite-multilingual.toml",
    "Gemma Terms of Use; MIT",
    "11",
    (384, 256, 128, 64),
    minutes=58,
    parity_texts="recipes/parity-multilingual.txt",
)
# EmbeddingGemma's 3-layer student on paraphrase-MiniLM-L3-v2 (Apache-2.0): STS-B test 0.8328 at int8, short of
# issue 28's 0.835, so not shipped; 1.9x a 6-layer student's sentences/s (MODEL_CARD.md, "embedlite-tiny-v2")
_TINY = Recipe(
    "recipes/embedlite-tiny-v2.toml",
    "Gemma Terms of Use; Apache-2.0",
    "en",
    (384, 256, 128, 64),
    minutes=29,
)
RECIPES = {
    # v7 with an additive margin of 0.1 in the translation contrast: on test cross-lingual accuracy@1 0.909 vs
    # 0.902, STS mean(5) 0.795 vs 0.795 (MODEL_CARD.md); 94 min with v6's teacher vectors cached, about 125 from
    # nothing
    "embedlite-multilingual-v8": replace(_MULTILINGUAL, recipe="recipes/embedlite-multilingual-v8.toml", minutes=125),
    # v6 with hard negatives in the translation contrast and 0.3 of e5 in the merge: on test cross-lingual
    # accuracy@1 0.902 vs 0.894, STS mean(5) 0.795 vs 0.793 (MODEL_CARD.md); 90 min with v6's teacher vectors
    # cached, no new teacher texts, so about v6's 120 from nothing
    "embedlite-multilingual-v7": replace(_MULTILINGUAL, recipe="recipes/embedlite-multilingual-v7.toml", minutes=120),
    # v5 with every training limit spread across its file (the runs had read image captions only): on test STS
    # mean(5) 0.7934 vs 0.7854, above e5 in every language, cross-lingual 0.894 vs 0.896 (MODEL_CARD.md); built
    # in 107 min with 20,799 of its 37,555 teacher texts cached; about 120 from nothing (that run's teacher pass
    # read 27.6 texts/s: all of them take 23 min, not 10)
    "embedlite-multilingual-v6": replace(_MULTILINGUAL, recipe="recipes/embedlite-multilingual-v6.toml", minutes=120),
    # embedlite-multilingual's runs (as v3 trains them) with the languages' mean directions and the mean taken off
    # its output: on test, cross-lingual accuracy@1 0.896 vs 0.884, STS level (MODEL_CARD.md); a new name,
    # as a shipped default gets one, so a model built under the old name keeps its weights
    "embedlite-multilingual-v5": replace(_MULTILINGUAL, recipe="recipes/embedlite-multilingual-v5.toml", minutes=85),
    "embedlite-multilingual": _MULTILINGUAL,
    # v2 centred, 0.5 of the start kept, three epochs: STS-B test 0.8352 at int8 (issue 28's 0.835 met), L3 level
    # within the test sets' noise on retrieval and one amazon domain, 1.89x the default's sentences/s; not
    # shipped: the package is already past PyPI's 100 MB (MODEL_CARD.md, "embedlite-tiny-v10"); 53 min with the
    # teacher vectors cached, about 66 from nothing (their pass: 13 min)
    "embedlite-tiny-v10": replace(_TINY, recipe="recipes/embedlite-tiny-v10.toml", minutes=66),
    "embedlite-tiny-v2": _TINY,
}


@dataclass(frozen=True)
class Origin:
    """Where a model known by name comes from: what an export of it says in its manifest and carries beside it."""

    name: str
    source_model: str
    license: str
    dims: tuple[int, ...]  # the Matryoshka dims it was trained for; () where only its full dim is stated
    notice: str | None = None  # a licence notice its artifacts must carry


def origin(name: str) -> Origin | None:
    """The origin of a shipped artifact, a recipe's built one or a known source model, by its name; None for
    anything else (a recipe's model not built here included)."""
    artifact = SHIPPED.get(name) or (in_home(name) if name in RECIPES else None)
    if artifact is not None:
        manifest = read_manifest(artifact, verify=False)
        notice = artifact / NOTICE
        return Origin(
            manifest.name,
            manifest.source_model,
            manifest.license or (UNSTATED_SHIPPED_LICENSE if name in SHIPPED else RECIPES[name].license),
            manifest.matryoshka_dims,
            notice.read_text(encoding="utf-8") if notice.is_file() else None,
        )
    if name in SOURCES:
        source = SOURCES[name]
        trained = source.dims if len(source.dims) > 1 else ()  # a lone full dim: the usual ladder below it
        return Origin(source.name, source.hub_id, source.license, trained, source.notice)
    return None


def derived_terms(*names: object) -> tuple[str, str | None]:
    """(licence, notice) of a model made from the known models `names` (a student distilled from a teacher and
    initialised from another): the terms of each one whose files carry a notice (Gemma's, an MIT copyright), so
    what is made from EmbeddingGemma's outputs is a Gemma derivative; ("", None) where none does."""
    known = [o for o in (origin(str(n)) for n in names if n is not None) if o is not None and o.notice]
    if not known:
        return "", None
    licence = "; ".join(dict.fromkeys(o.license for o in known))
    made = ", ".join(f"{o.name} ({o.source_model})" for o in known)
    notice = f"This model was made by embedlite from {made}; their terms and notices follow.\n\n"
    return licence, notice + "\n".join(dict.fromkeys(o.notice or "" for o in known))


def home() -> Path:
    return Path(os.environ.get("EMBEDLITE_HOME") or Path.home() / ".cache" / "embedlite")


def resolve(model: str | Path | None) -> Path:
    """An artifact directory for `model`: the embedded default (None), a known source name, an artifact path, a
    sentence-transformers path or a hub id."""
    if model is None:
        return default_artifact()
    if str(model) in SHIPPED:
        return shipped_artifact(str(model))
    name = HUB_IDS.get(str(model), str(model))
    if name in SOURCES:
        return cached_export(name, name)
    if name in RECIPES:
        return built_artifact(name)
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
        raise EmbedliteError(
            f"model {model!r} not found{suggestion(str(model))}: give a known name (embedlite "
            "models lists them), an artifact directory, a sentence-transformers directory or a hub "
            "id like org/name"
        )
    return cached_export(str(model), str(model).replace("/", "--"))


def cached_export(source: str, slug: str) -> Path:
    """Convert `source` once into $EMBEDLITE_HOME/models/slug and return that artifact (a known name's export
    takes its manifest's name and source from origin())."""
    target = home() / "models" / slug
    if (target / MANIFEST).is_file():
        return target
    from ..errors import require

    require("torch", "export", f"Converting {source} on first use")
    from embedlite.converters import export

    known = origin(source)
    print(
        f"embedlite: converting {known.source_model if known else source} to ONNX into {target} (first use only)",
        file=sys.stderr,
    )
    export(source, target, progress=lambda msg: print(f"embedlite:   {msg}", file=sys.stderr))
    return target


def in_home(name: str) -> Path | None:
    """The artifact at $EMBEDLITE_HOME/models/NAME (a recipe's model built and exported there, a source converted
    there); None where there is none."""
    target = home() / "models" / name
    return target if (target / MANIFEST).is_file() else None


def built_artifact(name: str) -> Path:
    """A recipe's model, built and exported into $EMBEDLITE_HOME/models/NAME; else an error that says how."""
    target = in_home(name)
    if target is not None:
        return target
    recipe = RECIPES[name]
    raise EmbedliteError(
        f"{name} is not shipped and not built here: in a checkout of the embedlite repository, with "
        f"embedlite[train], build it with `{recipe.build_commands(name)}` (about {recipe.minutes} minutes on 2 "
        "CPU cores)"
    )


def default_artifact() -> Path:
    """The default model's artifact, embedded in the package: nothing to fetch or convert."""
    return shipped_artifact(DEFAULT_MODEL)


def shipped_artifact(name: str) -> Path:
    """A shipped model's artifact, inside the package: nothing to fetch or convert."""
    path = SHIPPED[name]
    if not (path / MANIFEST).is_file():
        raise EmbedliteError(f"the shipped model {name} is missing from {path}: reinstall embedlite")
    return path


def source_dir(name: str) -> Path:
    """A known source model that ships as a sentence-transformers zip, unpacked once and sha256-checked."""
    if name not in SOURCES or SOURCES[name].kind != "zip":
        raise EmbedliteError(
            f"{name!r} is not a known sentence-transformers source; "
            f"known: {', '.join(n for n, s in SOURCES.items() if s.kind == 'zip')}"
        )
    return fetch(name, home() / "sources")


def is_known(name: str) -> bool:
    """A model known by name: a shipped artifact, a source model (embedlite.models.sources) or a recipe's."""
    return name in SHIPPED or name in SOURCES or name in RECIPES


def known_names() -> list[str]:
    """Every model known by name: the shipped ones (the default first), the sources converted on first use, then
    the recipes' models."""
    return [*SHIPPED, *SOURCES, *RECIPES]


def suggestion(name: str) -> str:
    """' (did you mean X?)' for a near miss of a known name, else ''."""
    import difflib

    names = known_names()
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]}?)" if close else ""


def catalog() -> list[dict]:
    """What `embedlite models` lists: name, dims, licence, languages, where it comes from and whether it is here."""
    import json

    rows = []
    for name, path in SHIPPED.items():
        shipped = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        rows.append(
            {
                "name": name,
                "dims": shipped["matryoshka_dims"],
                "license": shipped.get("license") or UNSTATED_SHIPPED_LICENSE,
                "source": f"shipped in the package ({shipped['source_model']})",
                "status": "shipped (default)" if name == DEFAULT_MODEL else "shipped",
                "mb": _megabytes(shipped),
                "languages": "en",
                "precision": shipped["precision"],
            }
        )
    for name, source in SOURCES.items():
        converted = in_home(name) is not None
        fetched = (home() / "sources" / name).is_dir()
        rows.append(
            {
                "name": name,
                "dims": list(source.dims) or None,
                "license": source.license,
                "source": f"{source.hub_id} (PyPI: {source.requirements[0].split('==')[0]}"
                + (f", {len(source.requirements)} parts" if len(source.requirements) > 1 else "")
                + ")",
                "status": "converted" if converted else "fetched" if fetched else "fetched on first use",
                "mb": round(source.size / 1e6, 1) if source.size else None,
                "languages": source.languages,
                "precision": "fp32",
            }
        )
    for name, recipe in RECIPES.items():
        built = in_home(name)
        made = json.loads((built / MANIFEST).read_text(encoding="utf-8")) if built else None
        rows.append(
            {
                "name": name,
                "dims": list(recipe.dims),
                "license": recipe.license,
                "source": f"built by {recipe.recipe}: {recipe.build_commands(name)}",
                "status": "built" if made else "recipe",
                "mb": _megabytes(made) if made else None,
                "languages": recipe.languages,
                "precision": made["precision"] if made else "int8",
            }
        )
    return rows


def _megabytes(manifest: dict) -> float:
    """An artifact's size from its manifest's files, in MB to one decimal."""
    return round(sum(f["bytes"] for f in manifest["files"].values()) / 1e6, 1)
