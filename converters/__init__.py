"""Export sentence-transformers encoders to embedlite model artifacts (ONNX, TFLite; fp32 to int4)."""

from .export import ExportResult, export, summary_table

__all__ = ["ExportResult", "export", "summary_table"]
