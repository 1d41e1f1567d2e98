"""torch EncoderGraph -> model.onnx with dynamic batch and sequence axes."""

from __future__ import annotations

from pathlib import Path

import torch

from .quiet import quiet

OPSET = 18


def export_onnx(graph: torch.nn.Module, path: Path) -> None:
    """Export with torch.onnx's dynamo exporter; inputs input_ids/attention_mask, output sentence_embedding."""
    graph = graph.eval()
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2178, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    shapes = ({0: batch, 1: seq}, {0: batch, 1: seq})
    with quiet():  # the exporter prints progress lines and warns about axis names
        torch.onnx.export(
            graph,
            (ids, mask),
            str(path),
            dynamo=True,
            dynamic_shapes=shapes,
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            opset_version=OPSET,
            external_data=False,
        )
