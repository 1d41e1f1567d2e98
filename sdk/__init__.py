"""embedlite: on-device text embeddings. Public API: embed, Embedder, VectorStore, export, distill."""

from __future__ import annotations

from .embedder import Embedder, embed
from .errors import ArtifactError, EmbedliteError
from .store import VectorStore

__version__ = "0.1.0"
__all__ = ["embed", "Embedder", "VectorStore", "export", "distill", "ArtifactError", "EmbedliteError", "__version__"]


def export(model, out, **options):
    """Export a sentence-transformers model to an embedlite artifact (needs embedlite[export])."""
    from .errors import require

    require("torch", "export", "embedlite.export")
    from embedlite.converters import export as _export

    return _export(model, out, **options)


def distill(config):
    """Distil a student encoder per an embedlite.training.DistillConfig (needs embedlite[train])."""
    from .errors import require

    require("torch", "train", "embedlite.distill")
    from embedlite.training import distill as _distill

    return _distill(config)
