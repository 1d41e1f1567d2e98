"""Rewrites a model.tflite without what no runtime reads: a second copy of quantization parameters, and the names
of the tensors inside each signature's graph.

- ai-edge-quantizer writes each quantized weight's per-channel scales and int64 zero points into every signature's
  copy of the tensor: all-MiniLM-L6-v2's int8 with 19 signatures carried 4.5 MB of them in a 32.7 MB file. A
  flatbuffer table can be referenced from many places, so identical parameters are written once and shared: 32.7 ->
  28.2 MB, the same outputs bit for bit on every signature (measured on all 19).
- The converter names every intermediate tensor after its module path
  (`embedlite.converters.encoder_graph.EncoderGraph/transformers...`), once per signature: 1.85 MB of the default's
  28.4 MB, 7.6 MB of the multilingual student's 61.0 MB (22,014 tensors over 21 signatures). Runtimes address a
  signature's inputs and outputs through the signature's own map (`args_0`, `output_0`) and LiteRT reads a tensor
  without a name as "" (`kEmptyTensorName`), so only the graphs' inputs and outputs keep theirs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ALIGNMENT = 16  # the schema's force_align for buffer data (the Python object API packs it at 1)
TAIL_ALIGNMENT = 64


def compact(path: Path) -> int:
    """Rewrite path in place with shared quantization parameters and only its graphs' inputs and outputs named;
    returns the bytes saved (0: nothing to drop, the file untouched)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    raw = path.read_bytes()
    model = schema.ModelT.InitFromPackedBuf(raw, 0)
    first: dict[tuple, object] = {}
    changed = 0
    signed: dict[int, set[int]] = {}  # a signature's tensors, should a map name one that is not a graph's input
    for signature in model.signatureDefs or []:
        maps = (*(signature.inputs or []), *(signature.outputs or []))
        signed.setdefault(signature.subgraphIndex, set()).update(m.tensorIndex for m in maps)
    for number, graph in enumerate(model.subgraphs or []):
        named = {int(i) for i in (*_indices(graph.inputs), *_indices(graph.outputs))} | signed.get(number, set())
        for index, tensor in enumerate(graph.tensors or []):
            if tensor.name and index not in named:
                tensor.name = None
                changed += 1
            q = tensor.quantization
            if q is None or q.details is not None:  # blockwise (int4) scales are tensors, shared already
                continue
            key = (*(_bytes(v) for v in (q.scale, q.zeroPoint, q.min, q.max)), q.quantizedDimension, q.detailsType)
            if key in first:
                tensor.quantization = first[key]
                changed += 1
            else:
                first[key] = q
    if not changed:
        return 0
    # Buffers stored after the flatbuffer (offset/size) keep their bytes and alignment; only their offsets move.
    external = [b for b in model.buffers if b.offset > 1]
    tail = min((b.offset for b in external), default=len(raw))
    offsets = [b.offset for b in external]
    for b in external:
        b.offset = 1 << 40  # a placeholder of the final width, so the flatbuffer's size does not change below
    size = len(_pack(model, schema, flatbuffers))
    base = -(-size // TAIL_ALIGNMENT) * TAIL_ALIGNMENT + tail % TAIL_ALIGNMENT
    for b, offset in zip(external, offsets):
        b.offset = base + offset - tail
    head = _pack(model, schema, flatbuffers)
    if len(head) != size:
        raise RuntimeError(f"{path}: the flatbuffer changed size while its buffer offsets were set")
    out = head + b"\0" * (base - size) + raw[tail:]
    tmp = path.with_suffix(".compact")
    tmp.write_bytes(out)
    tmp.replace(path)
    return len(raw) - len(out)


def _indices(values) -> list:
    return [] if values is None else list(values)


def _bytes(values) -> bytes | None:
    return None if values is None else np.asarray(values).tobytes()


def _pack(model, schema, flatbuffers) -> bytes:
    """Serialise model, writing each quantization table once and buffer data at ALIGNMENT."""
    builder = flatbuffers.Builder(1 << 20)
    done: dict[int, int] = {}
    pack_quantization, pack_buffer = schema.QuantizationParametersT.Pack, schema.BufferT.Pack

    def quantization(self, b):
        if id(self) not in done:
            done[id(self)] = pack_quantization(self, b)
        return done[id(self)]

    def buffer(self, b):
        data = None
        if self.data is not None and len(self.data):
            payload = np.ascontiguousarray(self.data, dtype=np.uint8).tobytes()
            b.StartVector(1, len(payload), ALIGNMENT)
            b.head -= len(payload)
            b.Bytes[b.head : b.head + len(payload)] = payload
            data = b.EndVector()
        schema.BufferStart(b)
        if data is not None:
            schema.BufferAddData(b, data)
        schema.BufferAddOffset(b, self.offset)
        schema.BufferAddSize(b, self.size)
        return schema.BufferEnd(b)

    schema.QuantizationParametersT.Pack, schema.BufferT.Pack = quantization, buffer
    try:
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    finally:
        schema.QuantizationParametersT.Pack, schema.BufferT.Pack = pack_quantization, pack_buffer
    return bytes(builder.Output())
