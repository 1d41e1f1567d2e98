"""The export formats: how a precision is reached from the torch graph. A new format or precision is added here.

Each format converts the float graph once per `variant` (a precision may need its own conversion: TFLite int4
packs the vocabulary table to 4 bits before converting) and then `finish`es each precision from that file.
`finish` returns what the report should say about it (for ONNX: the fused ops).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from embedlite.errors import EmbedliteError

from .precisions import PRECISIONS


class OnnxFormat:
    name = "onnx"

    def variant(self, precision: str) -> str:
        return "float"

    def convert(
        self, graph: nn.Module, variant: str, path: Path, seq_buckets: tuple[int, ...], calibration: list
    ) -> None:
        from .onnx_export import export_onnx
        from .onnx_fusion import mark_fusable

        export_onnx(graph, path)
        if getattr(graph, "additive_mask", False):
            mark_fusable(path, graph.encoder.config.num_attention_heads, graph.encoder.config.hidden_size)

    def finish(
        self, converted: Path, precision: str, path: Path, architecture: str = "", calibration: list | None = None
    ) -> dict:
        from .onnx_quantize import quantize

        return quantize(converted, path, precision, architecture, calibration)

    def manifest_fields(self, seq_buckets: tuple[int, ...]) -> dict:
        return {}


class TfliteFormat:
    name = "tflite"

    def variant(self, precision: str) -> str:
        return {"int4": "packed-embeddings", "int8": "row-int8-embeddings"}.get(precision, "float")

    def convert(
        self, graph: nn.Module, variant: str, path: Path, seq_buckets: tuple[int, ...], calibration: list
    ) -> None:
        from .packed_embedding import RowInt8Embedding, with_packed_embeddings
        from .tflite_export import export_tflite
        from .tflite_smoothing import smoothed

        if variant == "packed-embeddings":
            graph = with_packed_embeddings(graph)
        elif variant == "row-int8-embeddings":  # and BERT's products smoothed for per-token int8
            graph = smoothed(with_packed_embeddings(graph, RowInt8Embedding), calibration)
        export_tflite(graph, path, seq_buckets)

    def finish(
        self, converted: Path, precision: str, path: Path, architecture: str = "", calibration: list | None = None
    ) -> dict:
        """calibration: unused here (LiteRT's dynamic-range int8 takes its activation scales at run time; the
        smoothing, chosen on it, is in the converted graph)."""
        from .tflite_export import quantize_tflite
        from .tflite_flatbuffer import compact

        if precision == "fp32":
            shutil.copyfile(converted, path)
        else:
            quantize_tflite(converted, path, precision)
        compact(path)  # one copy of each weight's scales; no names inside the graphs
        return {}

    def manifest_fields(self, seq_buckets: tuple[int, ...]) -> dict:
        from .tflite_export import batch_buckets

        return {"sequence_buckets": seq_buckets, "batch_buckets": batch_buckets(seq_buckets)}


FORMATS = {f.name: f for f in (OnnxFormat(), TfliteFormat())}


@dataclass(frozen=True)
class Target:
    format: OnnxFormat | TfliteFormat
    precision: str

    @property
    def name(self) -> str:
        return f"{self.format.name}-{self.precision}"


def targets(formats: tuple[str, ...], precisions: tuple[str, ...]) -> list[Target]:
    """Every (format, precision) asked for, or an error naming the unknown one."""
    for fmt in formats:
        if fmt not in FORMATS:
            raise EmbedliteError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    for precision in precisions:
        if precision not in PRECISIONS:
            raise EmbedliteError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    return [Target(FORMATS[f], p) for f in formats for p in precisions]
