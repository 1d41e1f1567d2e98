"""Parquet files of embeddings, as `embedlite embed-file` writes them (one process or Ray) and the store imports them.

Columns: id (string), vector (a fixed-size list of float32, float16 or int8), scale (float32, int8 only: the
vector is codes * scale) and, optionally, text. The schema's metadata says which model made the vectors (name, dim,
prompts, as the store records it), the precision and the task, so that an import can refuse a mismatch.
A "file" may also be a folder of part files (Ray writes those); parts are read in name order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EmbedliteError, require
from .codec import int8_rows

META_KEY = b"embedlite"
FORMAT_VERSION = 1
PRECISIONS = ("float32", "float16", "int8")
ARROW_NAMES = {"float": "float32", "halffloat": "float16", "int8": "int8"}  # Arrow's type names -> precisions


def model_record(embedder) -> dict:
    """What a store or a vector file records about the model: name, dim (the Matryoshka dim used) and prompts."""
    return {"name": embedder.manifest.name, "dim": embedder.dim, "prompts": embedder.manifest.prompts}


def vector_schema(model: dict, precision: str, task: str | None, with_text: bool):
    """The Arrow schema of a vector file for `model` (a model_record)."""
    pa = _arrow()
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    fields = [("id", pa.string()), ("vector", pa.list_(getattr(pa, precision)(), model["dim"]))]
    fields += [("scale", pa.float32())] if precision == "int8" else []
    fields += [("text", pa.string())] if with_text else []
    meta = {"format_version": FORMAT_VERSION, "model": model, "precision": precision, "task": task}
    return pa.schema(fields, metadata={META_KEY: json.dumps(meta)})


def vector_table(schema, ids: list[str], vectors: np.ndarray, texts: list[str] | None = None):
    """An Arrow table of `schema` holding these rows (float32 vectors are cast or quantized to its precision)."""
    pa = _arrow()
    vector_type = schema.field("vector").type
    dim, precision = vector_type.list_size, _precision(vector_type)
    columns = [pa.array(ids, pa.string())]
    if precision == "int8":
        codes, scales = int8_rows(vectors)
        columns += [pa.FixedSizeListArray.from_arrays(pa.array(codes.reshape(-1)), dim), pa.array(scales)]
    else:
        flat = np.ascontiguousarray(vectors, dtype=np.dtype(precision)).reshape(-1)
        columns.append(pa.FixedSizeListArray.from_arrays(pa.array(flat), dim))
    if "text" in schema.names:
        columns.append(pa.array(texts, pa.string()))
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass(frozen=True)
class VectorFile:
    """A vector file (or folder of parts) opened for reading: its parts, schema, row count and recorded model."""

    path: Path
    parts: tuple[Path, ...]
    dim: int
    precision: str
    rows: int
    with_text: bool
    model: dict | None

    def batches(self, size: int, skip: int = 0) -> Iterator[tuple[list[str], np.ndarray, list[str] | None]]:
        """(ids, float32 vectors, texts or None) of up to `size` rows each, after the first `skip` rows.

        Each part is read one row group at a time (embed-file writes one per window), so memory stays flat in the
        file's size: importing 1M rows through pyarrow's dataset scanner peaked at 5.4 GB, and
        ParquetFile.iter_batches (pyarrow 26) also held on to what it had read, 0.9 GB per 500k rows of 384 floats."""
        parquet = require("pyarrow.parquet", "parquet", "Reading Parquet")
        columns = (
            ["id", "vector"] + (["scale"] if self.precision == "int8" else []) + (["text"] if self.with_text else [])
        )
        seen = 0
        for part in self.parts:
            start = seen  # rows of the earlier parts
            file = parquet.ParquetFile(part)
            try:
                for group in range(file.num_row_groups):
                    rows = file.metadata.row_group(group).num_rows
                    if seen + rows <= skip:  # before the resume point: not read at all
                        seen += rows
                        continue
                    table = file.read_row_group(group, columns=columns).slice(max(0, skip - seen))
                    row = max(seen, skip)
                    seen = row + table.num_rows
                    for batch in table.to_batches(max_chunksize=size):
                        yield self._rows(batch, part, row - start)
                        row += batch.num_rows
            finally:
                file.close()

    def _rows(self, batch, part: Path, first: int) -> tuple[list[str], np.ndarray, list[str] | None]:
        """The batch's columns; a null vector (or scale) is an error naming the file and its row (from 0; `first`
        is the batch's): flatten() would skip it and shift every later vector."""
        for name in ("vector", "scale"):
            if name in batch.schema.names and batch.column(name).null_count:
                at = batch.column(name).is_null().to_numpy(zero_copy_only=False).nonzero()[0][0]
                raise EmbedliteError(
                    f"{part}: row {first + int(at)} has a null {name}; a vector file holds one vector per row"
                )
        flat = batch.column("vector").flatten().to_numpy(zero_copy_only=False)
        vectors = flat.reshape(batch.num_rows, self.dim).astype(np.float32)
        if self.precision == "int8":
            vectors *= batch.column("scale").to_numpy(zero_copy_only=False)[:, None]
        texts = batch.column("text").to_pylist() if self.with_text else None
        return batch.column("id").to_pylist(), vectors, texts


def open_vector_file(path: str | Path) -> VectorFile:
    """Open a vector file or a folder of Parquet parts, checking its columns; errors name what is wrong."""
    pa = _arrow()
    parquet = require("pyarrow.parquet", "parquet", "Reading Parquet")
    path = Path(path)
    parts = tuple(sorted(path.glob("*.parquet"))) if path.is_dir() else (path,)
    if not path.exists() or not parts:
        raise EmbedliteError(
            f"{path}: no Parquet file there" + (" (the folder has no *.parquet parts)" if path.is_dir() else "")
        )
    try:
        schemas = [parquet.read_schema(p) for p in parts]
        rows = sum(parquet.ParquetFile(p).metadata.num_rows for p in parts)
    except (OSError, pa.ArrowException) as exc:
        raise EmbedliteError(f"{path} is not a readable Parquet file: {exc}") from None
    schema = schemas[0]
    if any(not s.equals(schema) for s in schemas[1:]):
        raise EmbedliteError(f"{path}: its parts do not share one schema")
    vector_type = schema.field("vector").type if "vector" in schema.names else None
    if "id" not in schema.names or not isinstance(vector_type, pa.FixedSizeListType):
        raise EmbedliteError(
            f"{path} is not a vector file: it needs an 'id' column and a 'vector' column of "
            f"fixed-size lists (columns: {', '.join(schema.names)})"
        )
    precision = _precision(vector_type)
    if precision is None or (precision == "int8") != ("scale" in schema.names):
        raise EmbedliteError(
            f"{path}: vectors of {vector_type.value_type} are not a precision embedlite writes "
            f"({', '.join(PRECISIONS)}; int8 with a 'scale' column)"
        )
    meta = json.loads(schema.metadata[META_KEY]) if schema.metadata and META_KEY in schema.metadata else {}
    return VectorFile(path, parts, vector_type.list_size, precision, rows, "text" in schema.names, meta.get("model"))


def _precision(vector_type) -> str | None:
    return ARROW_NAMES.get(str(vector_type.value_type))


def _arrow():
    return require("pyarrow", "parquet", "Parquet vector files")
