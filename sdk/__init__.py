"""embedlite: on-device text embeddings. Public API: embed, Embedder, VectorStore, export, distill."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .artifact import package_version
from .embedder import Embedder, embed
from .errors import ArtifactError, EmbedliteError, MissingDependencyError
from .store import Record, SearchResult, VectorStore

if TYPE_CHECKING:
    from .converters import ExportResult
    from .training import DistillConfig

__version__ = package_version()
__all__ = [
    "embed",
    "Embedder",
    "VectorStore",
    "export",
    "distill",
    "SearchResult",
    "Record",
    "ArtifactError",
    "EmbedliteError",
    "MissingDependencyError",
    "__version__",
]


def export(
    model: str | Path,
    out: str | Path,
    *,
    formats: tuple[str, ...] = ("onnx",),
    precisions: tuple[str, ...] = ("fp32",),
    dims: tuple[int, ...] | None = None,
    output_dim: int | None = None,
    name: str | None = None,
    source_name: str | None = None,
    parity_texts: list[str] | None = None,
    eval_data: Path | None = None,
    progress: Callable[[str], object] = print,
) -> list[ExportResult]:
    """Export a sentence-transformers encoder to embedlite artifacts (needs `pip install 'embedlite[export]'`;
    TFLite also needs 'embedlite[litert-export]').

    model: a sentence-transformers directory, a hub id, or a known name (a shipped model such as embedlite-small,
        rebuilt from its weights; all-MiniLM-L6-v2, all-mpnet-base-v2, paraphrase-MiniLM-L3-v2, embeddinggemma-300m).
    out: the artifact directory (with several formats/precisions: a folder of <format>-<precision> artifacts).
    formats: any of 'onnx', 'tflite'.
    precisions: any of 'fp32', 'fp16', 'int8' (integer compute, activations per token: the embedded default's),
        'int8-accurate' (weight-only), 'int4' (smallest).
    dims: the Matryoshka dims the artifact offers (default: the full dim and 512/256/128/64 below it).
    output_dim: make a fixed-dim artifact, sliced and re-normalised inside the graph.
    name, source_name: the manifest's model name and source (default: a known name's own, else taken from the
        model); a known name's export also keeps its licence and NOTICE.
    parity_texts: texts to compare the artifact with the source model on, and that int8 calibrates its smoothing
        on (default: built-in sentences).
    eval_data: a folder with stsb/ and stsb-retrieval/: adds STS-B, nDCG@10 and speed to each report.
    progress: called with one line per step.
    Returns one ExportResult (path, manifest, parity, report) per artifact.
    """
    from .errors import require

    require("torch", "export", "embedlite.export")
    from embedlite.converters import export as _export

    return _export(
        model,
        out,
        formats=formats,
        precisions=precisions,
        dims=dims,
        output_dim=output_dim,
        name=name,
        source_name=source_name,
        parity_texts=parity_texts,
        eval_data=eval_data,
        progress=progress,
    )


def distill(config: DistillConfig) -> Path:
    """Distil a student encoder as `config` (an embedlite.training.DistillConfig) says; returns the student's
    sentence-transformers directory, which exports as it is (needs `pip install 'embedlite[train]'`)."""
    from .errors import require

    require("torch", "train", "embedlite.distill")
    from embedlite.training import distill as _distill

    return _distill(config)
