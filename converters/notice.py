"""Licence notices an exported artifact must carry with the model files it bundles."""

from __future__ import annotations

from pathlib import Path

from embedlite.artifact import GEMMA_NOTICE, NOTICE


def write_notice(directory: Path, architecture: str) -> None:
    """NOTICE beside the model files of a Gemma-family artifact; other architectures need none from us."""
    if architecture.startswith("gemma"):
        (Path(directory) / NOTICE).write_text(GEMMA_NOTICE, encoding="utf-8")
