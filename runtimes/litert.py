"""LiteRT (TFLite) interpreter over an artifact's model.tflite with static (batch, sequence) signatures."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from embedlite.artifact import parse_signature
from embedlite.errors import ArtifactError, EmbedliteError, MissingDependencyError

from .cpu import default_threads
from .native_stderr import native_stderr_held
from .tokenizer import pad_batch

log = logging.getLogger("embedlite")
DEVICES = ("auto", "cpu", "gpu", "npu")


def interpreter_class():
    """ai_edge_litert, else tflite_runtime, else tensorflow.lite: whichever is installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            try:
                from tensorflow.lite import Interpreter
            except ImportError:
                raise MissingDependencyError(
                    "TFLite artifacts (the default embedlite-small-v10-litert among them) need a LiteRT interpreter: "
                    "pip install ai-edge-litert; where it does not install (Intel Macs), the same weights run on "
                    "onnxruntime as Embedder('embedlite-small-v10')"
                ) from None
    return Interpreter


class LiteRTModel:
    """Runs model.tflite: pads each batch to the smallest (batch, sequence) signature that fits.

    CPU runs through the Interpreter (XNNPACK); 'gpu' and 'npu' through LiteRT's CompiledModel with that
    accelerator. The buckets are read from the file's signatures, so they always match the model that runs."""

    lone_row_differs = False  # the batch-1 and batch-8 signatures give a row the same bits (tests/test_tflite.py)

    def __init__(self, path: Path, device: str = "auto", threads: int | None = None):
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r} for a TFLite artifact; choose one of: {', '.join(DEVICES)}")
        self.device = "cpu" if device == "auto" else device
        self.threads = threads or default_threads()  # the interpreter's own default is one thread
        if self.device == "cpu":
            Interpreter = interpreter_class()
            try:
                self._engine = Interpreter(model_path=str(path), num_threads=self.threads)
                signatures = self._engine.get_signature_list()
            except (ValueError, RuntimeError) as exc:
                raise ArtifactError(f"{path} could not be loaded by the LiteRT interpreter: {exc}") from None
        else:
            self._engine = compiled_model(path, self.device)
            signatures = self._engine.get_signature_list()
        self._names = {}
        for name in signatures:
            self._names[parse_signature(name)] = name
        self._loaded: dict[tuple[int, int], tuple] = {}  # -> (runner, input names): tensors allocated once
        # an interpreter is not thread-safe (onnxruntime's sessions are): one call at a time, from any thread
        self._lock = threading.Lock()
        if not self._names:
            raise ArtifactError(f"{path} has no (batch, sequence) signatures")
        self.seq_buckets = sorted({s for _, s in self._names})
        # the batch sizes each length has (the largest batch is kept for short sequences only)
        self._batches = {seq: sorted(b for b, s in self._names if s == seq) for seq in self.seq_buckets}
        log.info("embedlite: LiteRT on %s, buckets %s", self.device, self.seq_buckets)
        if self.device == "cpu":  # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" on a process's
            with native_stderr_held():  # first call, into every CLI command's output: made here, unseen
                self._embed([[0]], 0)

    def _runner(self, batch: int, seq: int):
        if (batch, seq) not in self._loaded:
            name = self._names[(batch, seq)]
            if self.device == "cpu":
                runner = self._engine.get_signature_runner(name)
                names = sorted(runner.get_input_details())  # args_0 = input_ids, args_1 = attention_mask
            else:
                runner = CompiledSignature(self._engine, name)
                names = runner.input_names
            self._loaded[(batch, seq)] = (runner, names)
        return self._loaded[(batch, seq)]

    def run_length(self, length: int) -> int:
        return next(s for s in self.seq_buckets if s >= length)  # the tokenizer truncates to the largest

    def _batch_for(self, rows: int, seq: int) -> tuple[int, int]:
        """(signature batch, rows it takes) for the next call at length seq: a padding row costs what a text
        costs, so a bucket less than 3/4 full gives way to calls of a smaller one (default, one thread, 16 tokens:
        3 texts in the 8-row signature 8.9 ms, in three 1-row calls 4.0 ms; 7 texts 8.7 against 9.1)."""
        batches = self._batches[seq]
        fit = next((b for b in batches if b >= rows), batches[-1])
        if rows < fit and rows < 0.75 * fit:
            smaller = max((b for b in batches if b <= rows), default=batches[0])
            return smaller, min(rows, smaller)
        return fit, min(rows, fit)

    def embed(self, ids: list[list[int]], pad_id: int) -> np.ndarray:
        with self._lock:
            return self._embed(ids, pad_id)

    def _embed(self, ids: list[list[int]], pad_id: int) -> np.ndarray:
        seq = self.run_length(max(len(row) for row in ids))
        outputs, start = [], 0
        while start < len(ids):
            batch, take = self._batch_for(len(ids) - start, seq)
            chunk = ids[start : start + take]
            start += take
            input_ids, mask = pad_batch(chunk + [[pad_id]] * (batch - len(chunk)), pad_id, width=seq)
            runner, names = self._runner(batch, seq)
            (out,) = runner(**{names[0]: input_ids.astype(np.int32), names[1]: mask.astype(np.int32)}).values()
            outputs.append(out[: len(chunk)])
        return np.concatenate(outputs).astype(np.float32, copy=False)


def compiled_model(path: Path, device: str):
    """A LiteRT CompiledModel on device ('gpu', 'npu' or 'cpu'), or an error naming what this machine lacks."""
    try:
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    except ImportError:
        raise MissingDependencyError(
            f"device {device!r} on a TFLite artifact needs LiteRT's CompiledModel API: pip install 'embedlite[litert]'"
        ) from None
    try:
        return CompiledModel.from_file(str(path), hardware_accel=getattr(HardwareAccelerator, device.upper()))
    except RuntimeError:
        raise EmbedliteError(f"device {device!r}: {_accelerator_missing(device)}; use device='cpu'") from None


def _accelerator_missing(device: str) -> str:
    if device == "npu":
        return (
            "LiteRT found no NPU: it needs a vendor dispatch library (Qualcomm, MediaTek, Google Tensor, "
            "Samsung, Intel OpenVINO) that loads on this machine, and a model those compilers accept"
        )
    import ctypes.util

    why = (
        "no Vulkan loader (libvulkan) is installed"
        if ctypes.util.find_library("vulkan") is None
        else "no GPU adapter was found"
    )
    return f"LiteRT could not start its GPU accelerator (WebGPU over Vulkan, Metal or Direct3D 12): {why}"


class CompiledSignature:
    """One signature of a CompiledModel, called like the Interpreter's signature runner."""

    def __init__(self, model, name: str):
        self._model = model
        self._index = model.get_signature_index(name)
        self.input_names = list(model.get_signature_list()[name]["inputs"])
        ((self._output, detail),) = model.get_output_tensor_details(name).items()
        self._shape = tuple(detail["shape"])
        self._inputs = model.create_input_buffers(self._index)
        self._outputs = model.create_output_buffers(self._index)

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        for name, buffer in zip(self.input_names, self._inputs):
            buffer.write(np.ascontiguousarray(inputs[name]))
        self._model.run_by_index(self._index, self._inputs, self._outputs)
        return {self._output: self._outputs[0].read(int(np.prod(self._shape)), np.float32).reshape(self._shape)}
