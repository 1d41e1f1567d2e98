"""Thin runtimes over onnxruntime and LiteRT; no torch on this path."""

from __future__ import annotations

from pathlib import Path

from embedlite.artifact import Manifest


def load_model(directory: Path, manifest: Manifest, device: str = "auto", threads: int | None = None):
    """Open the artifact's model file with the runtime its format needs."""
    path = Path(directory) / manifest.model_file
    if manifest.format == "onnx":
        from .onnx import OnnxModel

        return OnnxModel(path, device=device, threads=threads)
    from .litert import LiteRTModel

    return LiteRTModel(path, device=device, threads=threads)
