"""Distillation of compact encoders (EmbeddingGemma recipe)."""
