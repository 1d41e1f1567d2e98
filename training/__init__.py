"""Distil a compact encoder from a teacher with the EmbeddingGemma recipe: student init from a stronger model,
embedding and geometry matching, contrastive NCE, the spread-out regulariser at every Matryoshka dim,
checkpoint merging and quantization-aware training."""

from .config import DistillConfig, config_from_file
from .distill import distill
from .merge import merge

__all__ = ["DistillConfig", "config_from_file", "distill", "merge"]
