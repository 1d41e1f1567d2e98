"""Export sentence-transformers encoders to embedlite model artifacts (ONNX, TFLite; fp32, fp16, int8, int4)."""

from .export import ExportResult, export, summary_table

__all__ = ["ExportResult", "export", "summary_table"]
