"""Licence notices an exported artifact must carry with the model files it bundles."""

from __future__ import annotations

from pathlib import Path

from embedlite.artifact import GEMMA_NOTICE, NOTICE


def write_notice(directory: Path, architecture: str, notice: str | None = None) -> None:
    """NOTICE beside the model files: `notice` (the source's own, such as a shipped Gemma derivative's), else the
    Gemma notice for a Gemma-family artifact; other models need none from us."""
    text = notice or (GEMMA_NOTICE if architecture.startswith("gemma") else None)
    if text:
        (Path(directory) / NOTICE).write_text(text, encoding="utf-8")
