"""Where a model comes from: the names embedlite knows (the shipped default, the source models in `sources`, the
models a recipe builds), resolving a name or path to an artifact, and fetching and converting sources into the user
cache on first use.

Loading a source as a torch module for export or distillation is the converters' part
(`embedlite.converters.source.known_source`); this package stays free of torch."""

from .catalog import (
    DEFAULT_MODEL,
    EMBEDDED,
    HUB_IDS,
    RECIPES,
    SAME_WEIGHTS,
    SHIPPED,
    Origin,
    built_artifact,
    cached_export,
    catalog,
    default_artifact,
    home,
    in_home,
    is_known,
    known_names,
    origin,
    resolve,
    shipped_artifact,
    source_dir,
    suggestion,
)

__all__ = [
    "DEFAULT_MODEL",
    "EMBEDDED",
    "HUB_IDS",
    "RECIPES",
    "SAME_WEIGHTS",
    "SHIPPED",
    "Origin",
    "built_artifact",
    "in_home",
    "cached_export",
    "catalog",
    "default_artifact",
    "home",
    "is_known",
    "known_names",
    "origin",
    "resolve",
    "shipped_artifact",
    "source_dir",
    "suggestion",
]
