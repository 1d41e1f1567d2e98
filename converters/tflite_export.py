"""torch EncoderGraph -> model.tflite with one static-shape signature per (batch, sequence) bucket,
quantized with ai-edge-quantizer."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from embedlite.artifact import signature_name

from .quiet import quiet

# Three in four STS-B sentences fit 16 tokens: without the 16 bucket they ran padded to 32, at twice the work (the
# TFLite int8 artifact measured below ONNX fp32 for that reason). 24 and 48 cut the padding of the next ones:
# all-MiniLM-L6-v2 int8 on the STS-B test sentences at batch 32, 2 threads, 5 alternating rounds: 1,633 against
# 1,499 sentences/s (1.09x; batch-32 signatures as well: 1.11x, not kept: 2.4 MB more for 2%), the same bits,
# 2.0 MB more (30.3 MB).
SEQUENCE_BUCKETS = (16, 24, 32, 48, 64, 128, 256, 512)
BATCH_BUCKETS = (1, 8)
# Short texts also get a 32-row signature: all-MiniLM-L6-v2 int8 on the STS-B test sentences at batch 32, 2 threads,
# 11 alternating rounds in one process: 1.10x the sentences/s of (1, 8) alone (median; CPU time 1.11x), the same
# bits. Only up to 64 tokens: longer rows already fill a call at batch 8, and 32 rows of 2048 tokens would need
# EmbeddingGemma's attention scores for all of them at once.
SHORT_BATCH, SHORT_BATCH_MAX_SEQ = 32, 64
# ai-edge-quantizer recipes, chosen by measurement on all-MiniLM-L6-v2 (benchmarks/results/export.md).
RECIPES = {
    "int8": "dynamic_wi8c_afp32",
    "int8-accurate": "weight_only_wi8_afp32",
    "int4": "dynamic_wi4b32_afp32",
}


def buckets_for(max_seq_length: int, wanted: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """Sequence buckets (`wanted`, default SEQUENCE_BUCKETS) below the model's max length, which is always the
    last, so every text has one."""
    from embedlite.errors import EmbedliteError

    wanted = SEQUENCE_BUCKETS if wanted is None else tuple(wanted)
    bad = [b for b in wanted if not isinstance(b, int) or isinstance(b, bool) or b < 1]
    if bad:
        raise EmbedliteError(f"sequence_buckets must be positive token counts; got {bad[0]!r}")
    return (*sorted({b for b in wanted if b < max_seq_length}), max_seq_length)


def signature_shapes(seq_buckets: tuple[int, ...]) -> list[tuple[int, int]]:
    """The (batch, sequence) signatures of an export: every batch bucket at every length, and the short batch up
    to SHORT_BATCH_MAX_SEQ tokens."""
    shapes = [(batch, seq) for batch in BATCH_BUCKETS for seq in seq_buckets]
    return shapes + [(SHORT_BATCH, seq) for seq in seq_buckets if seq <= SHORT_BATCH_MAX_SEQ]


def batch_buckets(seq_buckets: tuple[int, ...]) -> tuple[int, ...]:
    """The batch sizes some signature has (the manifest's batch_buckets)."""
    return tuple(sorted({batch for batch, _ in signature_shapes(seq_buckets)}))


def export_tflite(graph: torch.nn.Module, path: Path, seq_buckets: tuple[int, ...]) -> None:
    """Convert with litert-torch: inputs int32 input_ids, attention_mask; output the embedding."""
    from embedlite.errors import require

    litert_torch = require("litert_torch", "litert-export", "TFLite export")
    from .grouped_attention import traced_with_grouped_attention

    graph = _constant_token_type(graph).eval()
    builder: Any = None  # litert_torch's signature builder, started by the first signature
    for batch, seq in signature_shapes(seq_buckets):
        ids = torch.ones((batch, seq), dtype=torch.int32)  # phones feed int32 token ids
        mask = torch.ones_like(ids)
        # Padding in the sample: an all-ones mask lets transformers drop the mask from the traced graph.
        mask[:, seq // 2 :] = 0
        sample = (ids, mask)
        name = signature_name(batch, seq)
        builder = (
            litert_torch.signature(name, graph, sample) if builder is None else builder.signature(name, graph, sample)
        )
    with quiet(), traced_with_grouped_attention(graph.encoder):
        builder.convert().export(str(path))


class _TokenTypeZero(nn.Module):
    """Every token has type 0 (EncoderGraph passes zeros): its embedding as one broadcast (1, 1, hidden) row."""

    def __init__(self, table: nn.Embedding):
        super().__init__()
        self.register_buffer("row", table.weight.detach()[0].clone().reshape(1, 1, -1))

    def forward(self, token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.row


def _constant_token_type(graph: nn.Module) -> nn.Module:
    """The converter folds the token-type lookup of constant zeros into a full (batch, seq, hidden) constant per
    signature (7.5 MB of all-MiniLM-L6-v2's file); a broadcast row computes the same sum without it."""
    embeddings = getattr(graph.encoder, "embeddings", None)
    if not isinstance(getattr(embeddings, "token_type_embeddings", None), nn.Embedding):
        return graph
    graph = copy.deepcopy(graph)  # the source model stays the parity reference, untouched
    graph.encoder.embeddings.token_type_embeddings = _TokenTypeZero(graph.encoder.embeddings.token_type_embeddings)
    return graph


def quantize_tflite(src: Path, dst: Path, precision: str) -> None:
    """fp16 by float casting of weights; int8/int4 with the recipes above."""
    from embedlite.errors import require

    require("ai_edge_quantizer", "litert-export", "TFLite quantization")
    from ai_edge_quantizer import quantizer, recipe

    q = quantizer.Quantizer(str(src))
    if precision == "fp16":
        q.add_weight_only_config(regex=".*", operation_name="*", num_bits=16, algorithm_key="float_casting")
    else:
        q.load_quantization_recipe(getattr(recipe, RECIPES[precision])())
    with quiet():
        result = q.quantize()
    result.export_model(str(dst), overwrite=True)
