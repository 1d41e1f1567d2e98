"""Thin runtimes over onnxruntime and LiteRT; no torch on this path."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from embedlite.artifact import Manifest


class RuntimeModel(Protocol):
    """A loaded model file: token ids in, one float32 vector per text out."""

    device: str

    def run_length(self, length: int) -> int:
        """The sequence length a text of `length` tokens runs at (a batch runs at its longest text's)."""
        ...

    def embed(self, ids: list[list[int]], pad_id: int) -> np.ndarray:
        """(len(ids), dim) float32 for token id lists of any lengths (padded with pad_id as the model needs)."""
        ...


def load_model(directory: Path, manifest: Manifest, device: str = "auto", threads: int | None = None) -> RuntimeModel:
    """Open the artifact's model file with the runtime its format needs."""
    path = Path(directory) / manifest.model_file
    if manifest.format == "onnx":
        from .onnx import OnnxModel

        return OnnxModel(path, device=device, threads=threads)
    from .litert import LiteRTModel

    return LiteRTModel(path, device=device, threads=threads)
