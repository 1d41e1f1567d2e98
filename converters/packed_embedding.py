"""Word-embedding tables for TFLite's quantized artifacts: 4 bits packed (int4) and 8 bits per row (int8).

ai-edge-quantizer keeps embedding lookups at 8 bits, and the vocabulary table is half of a small encoder
(all-MiniLM-L6-v2: 11.7 M of 22.7 M parameters). Here the table is packed before conversion: two 4-bit codes per
byte, one scale per block of 32 values; the graph gathers the packed rows of the input tokens and unpacks them
with integer ops that every TFLite runtime has (GATHER, FLOOR_DIV, SUB, MUL), so no custom op is needed.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

BLOCK = 32


class PackedEmbedding(nn.Module):
    """nn.Embedding stored as int4 codes (symmetric, per block of BLOCK values) packed two per byte."""

    def __init__(self, weight: torch.Tensor, embed_scale: float | torch.Tensor = 1.0):
        super().__init__()
        vocab, dim = weight.shape
        if dim % BLOCK:
            raise ValueError(f"embedding dim {dim} is not a multiple of the block size {BLOCK}")
        blocks = weight.detach().float().reshape(vocab, dim // BLOCK, BLOCK)
        scales = blocks.abs().amax(-1, keepdim=True).clamp(min=1e-12) / 7.0
        codes = (blocks / scales).round().clamp(-8, 7).to(torch.int32) + 8  # 0..15
        codes = codes.reshape(vocab, dim // 2, 2)
        # int8 storage (the TFLite converter takes signless integer constants only), offset by 128
        self.register_buffer("packed", (codes[..., 0] + 16 * codes[..., 1] - 128).to(torch.int8))
        self.register_buffer("scales", scales.squeeze(-1).contiguous())
        self.embed_scale = float(embed_scale)  # Gemma scales its embeddings by sqrt(hidden)
        self.dim = dim

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        rows = self.packed[input_ids].to(torch.int32) + 128  # (..., dim / 2), two codes per value
        high = torch.div(rows, 16, rounding_mode="floor")
        low = rows - 16 * high
        codes = torch.stack((low, high), dim=-1).flatten(-2).to(torch.float32) - 8.0  # (..., dim)
        scales = self.scales[input_ids].repeat_interleave(BLOCK, dim=-1)
        return codes * scales * self.embed_scale


class RowInt8Embedding(nn.Module):
    """nn.Embedding stored as int8 codes with one scale per row (symmetric, 127 levels), as ai-edge-quantizer
    would store it, but with the scales in one float buffer: the quantizer writes a row's scale and int64 zero point
    into every signature's copy of the tensor (10 signatures x 30,522 rows x 12 bytes: 3.7 MB of
    embedlite-small-v3's 32 MB file), a constant buffer is stored once."""

    def __init__(self, weight: torch.Tensor, embed_scale: float | torch.Tensor = 1.0):
        super().__init__()
        weight = weight.detach().float()
        scales = weight.abs().amax(-1, keepdim=True).clamp(min=1e-12) / 127.0
        self.register_buffer("codes", (weight / scales).round().clamp(-127, 127).to(torch.int8))
        self.register_buffer("scales", scales)
        self.embed_scale = float(embed_scale)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.codes[input_ids].to(torch.float32) * self.scales[input_ids] * self.embed_scale


def with_packed_embeddings(graph: nn.Module, table_class: type[nn.Module] = PackedEmbedding) -> nn.Module:
    """A copy of an EncoderGraph whose encoder reads its input embeddings from a quantized table (4-bit packed by
    default)."""
    packed = copy.deepcopy(graph)
    table = packed.encoder.get_input_embeddings()
    packed.encoder.set_input_embeddings(table_class(table.weight, getattr(table, "embed_scale", 1.0)))
    return packed.eval()
