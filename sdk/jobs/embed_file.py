"""`embedlite embed-file` in one process: a corpus file to a Parquet vector file, in flat memory, resumable.

Each window of texts becomes a part file in OUT.partial/, written under a temporary name, fsynced and renamed, so
a part is there whole or not at all; its name, rows-START-STOP.parquet, records which input rows are committed.
A run that was interrupted (kill -9 included) is resumed by the same command: it checks that the input and the
settings are those of the first run, drops anything past the last whole part, and reads on from there, so no row
is embedded twice or written twice. When every row is in, the parts are copied into OUT, one row group each, and
the folder is removed.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from ..embedder import Embedder
from ..errors import EmbedliteError, require
from ..files.lock import exclusive
from ..files.records import Record, count_records, read_records
from ..files.vectors import model_record, vector_schema, vector_table

PART = re.compile(r"rows-(\d{12})-(\d{12})\.parquet")
JOB = "job.json"


@dataclass(frozen=True)
class EmbedFileResult:
    path: Path
    rows: int
    resumed_at: int  # input rows already committed when this run started (0: a fresh run)


def partial_dir(output: Path) -> Path:
    return output.with_name(output.name + ".partial")


def embed_file(
    embedder: Embedder,
    source: Path,
    output: Path,
    *,
    id_field: str = "id",
    text_field: str = "text",
    task: str | None = None,
    precision: str = "float32",
    with_text: bool = True,
    window: int = 4096,
    batch_size: int = 32,
    progress: bool = True,
) -> EmbedFileResult:
    """Embed every record of `source` (JSONL, Parquet, CSV/TSV or plain lines) into the Parquet file `output`,
    resuming an interrupted run of the same job. Two runs on one output cannot overlap: the second is refused."""
    parquet = require("pyarrow.parquet", "parquet", "embed-file")
    source, output = Path(source), Path(output)
    schema = vector_schema(model_record(embedder), precision, task, with_text)
    records = read_records(source, id_field, text_field)  # checks the input exists before anything is written
    with exclusive(output, "embed-file"):
        parts = partial_dir(output)
        if output.exists() and not parts.exists():
            raise EmbedliteError(f"{output} already exists: remove it or choose another output")
        job = {
            "input": str(source.resolve()),
            "input_bytes": source.stat().st_size,
            "input_mtime_ns": source.stat().st_mtime_ns,
            "model": model_record(embedder),
            "model_files": embedder.manifest.files,
            "task": task,
            "precision": precision,
            "id_field": id_field,
            "text_field": text_field,
            "with_text": with_text,
        }
        committed = _resume(parts, job)
        from tqdm.auto import tqdm

        total = count_records(source)
        with tqdm(
            total=total, initial=committed, unit="text", desc="embedding", disable=None if progress else True
        ) as bar:  # None: shown on a terminal only
            pending: collections.deque[Record] = collections.deque()
            stream = embedder.embed_stream(
                _texts(islice(records, committed, None), pending), task=task, batch_size=batch_size, window=window
            )
            for start, vectors in stream:
                rows = [pending.popleft() for _ in range(len(vectors))]
                first = committed + start
                table = vector_table(
                    schema, [r.id for r in rows], vectors, [r.text for r in rows] if with_text else None
                )
                _write_atomic(
                    parts / f"rows-{first:012d}-{first + len(rows):012d}.parquet",
                    lambda path: parquet.write_table(table, path),
                )
                bar.update(len(rows))
        return EmbedFileResult(output, _merge(parts, output, schema), committed)


def _texts(records: Iterator[Record], pending: collections.deque) -> Iterator[str]:
    """The texts of `records`, keeping each record in `pending` until its vector is written."""
    for record in records:
        pending.append(record)
        yield record[1]


def _resume(parts: Path, job: dict) -> int:
    """Input rows the whole parts in `parts` hold (0 for a new job); anything past them is removed."""
    if not parts.exists():
        parts.mkdir(parents=True)
        _write_atomic(parts / JOB, lambda path: Path(path).write_text(json.dumps(job, indent=1)))
        return 0
    try:
        before = json.loads((parts / JOB).read_text())
    except (OSError, ValueError):
        raise EmbedliteError(
            f"{parts} holds no readable {JOB}: it is not an interrupted embed-file run; remove it to start over"
        ) from None
    changed = sorted(k for k in job.keys() | before.keys() if job.get(k) != before.get(k))
    if changed:
        raise EmbedliteError(
            f"{parts} holds an interrupted run whose {', '.join(changed)} differ from this one's: "
            f"run it with the same input and settings, or remove {parts} to start over"
        )
    committed = 0
    for path in sorted(parts.iterdir()):
        match = PART.fullmatch(path.name)
        if match and int(match[1]) == committed:
            committed = int(match[2])
        elif path.name != JOB:
            path.unlink()  # a temporary file or a part past a gap: written by the run that was cut off
    return committed


def _merge(parts: Path, output: Path, schema) -> int:
    """Copy the parts, in row order, into `output` (one row group each), then remove the parts."""
    parquet = require("pyarrow.parquet", "parquet", "embed-file")
    rows = 0

    def write(path):
        nonlocal rows
        with parquet.ParquetWriter(path, schema) as writer:
            for part in sorted(p for p in parts.iterdir() if PART.fullmatch(p.name)):
                table = parquet.read_table(part, schema=schema)
                writer.write_table(table, row_group_size=max(table.num_rows, 1))
                rows += table.num_rows

    _write_atomic(output, write)
    shutil.rmtree(parts)
    return rows


def _write_atomic(path: Path, write) -> None:
    """write(temporary path), fsync it, rename it to `path` and fsync the folder: `path` is whole or absent."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(str(tmp))
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
