"""ONNX Runtime session over an artifact's model.onnx; `device` names map to execution providers."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from embedlite.errors import ArtifactError, EmbedliteError

from .tokenizer import pad_batch

log = logging.getLogger("embedlite")

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "qnn": "QNNExecutionProvider",
    "nnapi": "NnapiExecutionProvider",
}
# "auto" takes the first available; QNN and NNAPI need per-device options, so they are opt-in.
AUTO_ORDER = ("cuda", "coreml", "directml", "cpu")
PROVIDER_PACKAGES = {
    "cuda": "onnxruntime-gpu",
    "tensorrt": "onnxruntime-gpu",
    "directml": "onnxruntime-directml",
    "qnn": "onnxruntime-qnn",
    "coreml": "onnxruntime (macOS build)",
    "nnapi": "onnxruntime (Android build)",
}


def resolve_device(device: str) -> str:
    """Map a device name to an available execution provider name, or explain what is missing."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "auto":
        for name in AUTO_ORDER:
            if PROVIDERS[name] in available:
                return name
        return "cpu"
    if device not in PROVIDERS:
        raise ValueError(f"unknown device {device!r}; choose one of: auto, {', '.join(PROVIDERS)}")
    if PROVIDERS[device] not in available:
        raise EmbedliteError(
            f"device {device!r} needs {PROVIDERS[device]}, which this onnxruntime lacks "
            f"(available: {', '.join(available)}); install {PROVIDER_PACKAGES[device]}"
        )
    return device


def _check_signature(path: Path, session) -> None:
    """An embedding graph takes input_ids and attention_mask and gives one output: refused at load, not at the
    first request (a graph with two outputs failed there with 'too many values to unpack')."""
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if sorted(inputs) != ["attention_mask", "input_ids"]:
        raise ArtifactError(f"{path} takes the inputs {inputs}; an embedlite model takes input_ids and attention_mask")
    if len(outputs) != 1:
        raise ArtifactError(f"{path} has {len(outputs)} outputs {outputs}; an embedlite model has one, the embeddings")


class OnnxModel:
    """Runs model.onnx: (input_ids, attention_mask) -> float32 embeddings."""

    def __init__(self, path: Path, device: str = "auto", threads: int | None = None):
        import onnxruntime as ort

        self.device = resolve_device(device)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        providers = [PROVIDERS[self.device]]
        if self.device != "cpu":
            providers.append(PROVIDERS["cpu"])
        try:
            self._session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ArtifactError(f"{path} could not be loaded by onnxruntime: {exc}") from None
        _check_signature(path, self._session)
        log.info("embedlite: onnxruntime on %s (%s)", self.device, ", ".join(providers))

    def run_length(self, length: int) -> int:
        return length  # dynamic axes: a batch runs at its longest text's length

    def embed(self, ids: list[list[int]], pad_id: int) -> np.ndarray:
        """Embeddings of token id lists, padded to the longest."""
        input_ids, attention_mask = pad_batch(ids, pad_id)
        (out,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})
        return out.astype(np.float32, copy=False)
