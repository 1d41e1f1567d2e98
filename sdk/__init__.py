"""embedlite: on-device text embeddings. Public API: embed, Embedder, VectorStore, export, distill."""

# no `from __future__ import annotations` and private aliases: `import embedlite` shows the public API, not
# `annotations`, `TYPE_CHECKING` or helpers (dir(embedlite) listed them); mypy reads _typing.TYPE_CHECKING as
# TYPE_CHECKING, not an alias of the name
import typing as _typing

from .artifact import package_version as _package_version
from .embedder import Embedder, embed
from .errors import ArtifactError, EmbedliteError, MissingDependencyError
from .store import Record, SearchResult, VectorStore

if _typing.TYPE_CHECKING:
    from pathlib import Path

    from .training import DistillConfig

__version__ = _package_version()
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


if _typing.TYPE_CHECKING:  # type checkers and IDEs see the one signature, in embedlite.converters
    from .converters import export
else:

    def export(model, out, **options):
        """Export a sentence-transformers encoder to embedlite artifacts (needs `pip install 'embedlite[export]'`):
        one ExportResult per (format, precision). The options (formats, precisions, dims, output_dim, name,
        source_name, parity_texts, eval_data, sequence_buckets, progress) are documented on
        embedlite.converters.export."""
        from .errors import require
        from .progress import keep_library_bars_off_logs

        require("torch", "export", "embedlite.export")
        keep_library_bars_off_logs()
        from .converters import export as _export

        return _export(model, out, **options)


def distill(config: "DistillConfig") -> "Path":
    """Distil a student encoder as `config` (an embedlite.training.DistillConfig) says; returns the student's
    sentence-transformers directory, which exports as it is (needs `pip install 'embedlite[train]'`)."""
    from .converters.quiet import require_sentence_transformers
    from .progress import keep_library_bars_off_logs

    keep_library_bars_off_logs()
    require_sentence_transformers("train", "embedlite.distill")
    from embedlite.training import distill as _distill

    return _distill(config)
