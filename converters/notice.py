"""Licence notices an exported artifact must carry with the model files it bundles."""

from __future__ import annotations

from pathlib import Path

from embedlite.artifact import NOTICE

GEMMA = (
    "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms.\n"
    "This artifact holds Gemma materials (model weights derived from a Gemma model and the Gemma tokenizer);\n"
    "anything that redistributes it (a copy of the artifact, an app that bundles it) must carry this notice\n"
    "and the use restrictions of the Gemma Terms of Use.\n"
)


def write_notice(directory: Path, architecture: str) -> None:
    """NOTICE beside the model files of a Gemma-family artifact; other architectures need none from us."""
    if architecture.startswith("gemma"):
        (Path(directory) / NOTICE).write_text(GEMMA, encoding="utf-8")
