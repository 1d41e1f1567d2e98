"""LiteRT (TFLite) interpreter over an artifact's model.tflite with static (batch, sequence) signatures."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from embedlite.errors import ArtifactError, EmbedliteError, MissingDependencyError

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
                    "TFLite artifacts need a LiteRT interpreter: pip install 'embedlite[litert]'"
                ) from None
    return Interpreter


class LiteRTModel:
    """Runs model.tflite: pads each batch to the smallest (batch, sequence) signature that fits.

    The buckets are read from the file's signatures, so they always match the model that runs."""

    def __init__(self, path: Path, device: str = "auto", threads: int | None = None):
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r} for a TFLite artifact; choose one of: {', '.join(DEVICES)}")
        if device in ("gpu", "npu"):
            raise EmbedliteError(
                f"device {device!r}: LiteRT's {device.upper()} acceleration is reached through the LiteRT "
                "Android/iOS runtimes; the Python interpreter runs TFLite on the CPU (XNNPACK): use device='cpu'"
            )
        self.device = "cpu"
        Interpreter = interpreter_class()
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
            signatures = self._interpreter.get_signature_list()
        except (ValueError, RuntimeError) as exc:
            raise ArtifactError(f"{path} could not be loaded by the LiteRT interpreter: {exc}") from None
        self._runners = {}
        for name in signatures:
            batch, seq = (int(part[1:]) for part in name.split("_"))
            self._runners[(batch, seq)] = name
        self._loaded = {}  # (batch, seq) -> (runner, input names): a runner allocates its tensors once
        if not self._runners:
            raise ArtifactError(f"{path} has no (batch, sequence) signatures")
        self.seq_buckets = sorted({s for _, s in self._runners})
        self.batch_buckets = sorted({b for b, _ in self._runners})
        log.info("embedlite: LiteRT on cpu, buckets %s", self.seq_buckets)

    def _runner(self, batch: int, seq: int):
        if (batch, seq) not in self._loaded:
            runner = self._interpreter.get_signature_runner(self._runners[(batch, seq)])
            names = sorted(runner.get_input_details())  # args_0 = input_ids, args_1 = attention_mask
            self._loaded[(batch, seq)] = (runner, names)
        return self._loaded[(batch, seq)]

    def embed(self, ids: list[list[int]], pad_id: int) -> np.ndarray:
        longest = max(len(row) for row in ids)
        seq = next(s for s in self.seq_buckets if s >= longest)  # the tokenizer truncates to the largest
        outputs = []
        for start in range(0, len(ids), self.batch_buckets[-1]):
            chunk = ids[start:start + self.batch_buckets[-1]]
            batch = next(b for b in self.batch_buckets if b >= len(chunk))
            input_ids, mask = pad_batch(chunk + [[pad_id]] * (batch - len(chunk)), pad_id, width=seq)
            runner, names = self._runner(batch, seq)
            (out,) = runner(**{names[0]: input_ids.astype(np.int32), names[1]: mask.astype(np.int32)}).values()
            outputs.append(out[: len(chunk)])
        return np.concatenate(outputs).astype(np.float32, copy=False)
