"""Thin runtimes over onnxruntime and LiteRT; no torch on this path."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

import numpy as np

from embedlite.artifact import Manifest


class RuntimeModel(Protocol):
    """A loaded model file: token ids in, one float32 vector per text out."""

    device: str
    # whether a call of one row runs other kernels than a call of several (the Embedder then runs a lone row twice)
    lone_row_differs: bool

    def run_length(self, length: int) -> int:
        """The sequence length a text of `length` tokens runs at (a batch runs at its longest text's)."""
        ...

    def embed(self, ids: list[list[int]], pad_id: int) -> np.ndarray:
        """(len(ids), dim) float32 for token id lists of any lengths (padded with pad_id as the model needs)."""
        ...


# the runtime of each artifact format (artifact.MODEL_FILES names the same formats), imported only when used
RUNTIMES = {"onnx": ("onnx", "OnnxModel"), "tflite": ("litert", "LiteRTModel")}


def load_model(directory: Path, manifest: Manifest, device: str = "auto", threads: int | None = None) -> RuntimeModel:
    """Open the artifact's model file with the runtime its format needs."""
    module, name = RUNTIMES[manifest.format]
    runtime = getattr(importlib.import_module(f".{module}", __name__), name)
    # ONNX runs a text padded to a bucket of its length, capped at the longest the tokenizer lets through;
    # LiteRT's lengths are the file's signatures
    options = {"max_length": manifest.max_seq_length} if manifest.format == "onnx" else {}
    return runtime(Path(directory) / manifest.model_file, device=device, threads=threads, **options)
