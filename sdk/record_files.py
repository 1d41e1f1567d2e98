"""(id, text) records streamed from a corpus file: JSONL, Parquet, CSV/TSV with a header row, or plain lines.

Records are read one at a time (Parquet a row group at a time), so a file of any size reads in flat memory.
A record without an id field gets its line number (JSONL, plain lines) or row number (CSV, Parquet), from 1.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from .errors import EmbedliteError, require

LINE_FORMATS = (".jsonl", ".ndjson")
CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}


def read_records(path: Path, id_field: str = "id", text_field: str = "text") -> Iterator[tuple[str, str]]:
    """(id, text) of every record of `path`, in file order; a bad record is an error naming its line or row."""
    path = Path(path)
    if not path.is_file():
        raise EmbedliteError(f"input file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _parquet(path, id_field, text_field)
    if suffix in LINE_FORMATS:
        return _jsonl(path, id_field, text_field)
    if suffix in CSV_DELIMITERS:
        return _csv(path, id_field, text_field, CSV_DELIMITERS[suffix])
    return _lines(path)


def count_records(path: Path) -> int | None:
    """How many records read_records will give, where that is cheap to know (None for CSV: quoted newlines)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return require("pyarrow.parquet", "parquet", "Reading Parquet").ParquetFile(path).metadata.num_rows
    if suffix in CSV_DELIMITERS:
        return None
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def _jsonl(path: Path, id_field: str, text_field: str) -> Iterator[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EmbedliteError(f"{path}:{number}: not valid JSON: {exc}") from None
            if not isinstance(row, dict):
                raise EmbedliteError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            yield _record(row, number, id_field, text_field, f"{path}:{number}")


def _csv(path: Path, id_field: str, text_field: str, delimiter: str) -> Iterator[tuple[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        if reader.fieldnames is None or text_field not in reader.fieldnames:
            raise EmbedliteError(f"{path}: the header row {reader.fieldnames} has no {text_field!r} column "
                                 "(name it with --text-field)")
        for number, row in enumerate(reader, 1):
            yield _record(row, number, id_field, text_field, f"{path}: row {number}")


def _parquet(path: Path, id_field: str, text_field: str) -> Iterator[tuple[str, str]]:
    parquet = require("pyarrow.parquet", "parquet", "Reading Parquet")
    file = parquet.ParquetFile(path)
    names = file.schema_arrow.names
    if text_field not in names:
        raise EmbedliteError(f"{path} has no {text_field!r} column (columns: {', '.join(names)}); "
                             "name it with --text-field")
    columns = [text_field] + ([id_field] if id_field in names else [])
    number = 0
    for batch in file.iter_batches(columns=columns):
        for row in batch.to_pylist():
            number += 1
            yield _record(row, number, id_field, text_field, f"{path}: row {number}")


def _lines(path: Path) -> Iterator[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                yield str(number), line.rstrip("\r\n")


def _record(row: dict, number: int, id_field: str, text_field: str, where: str) -> tuple[str, str]:
    text = row.get(text_field)
    if not isinstance(text, str):
        raise EmbedliteError(f"{where}: expected a string in field {text_field!r}, got "
                             f"{'nothing' if text is None else type(text).__name__}")
    key = row.get(id_field)
    return (str(number) if key is None or key == "" else str(key)), text
