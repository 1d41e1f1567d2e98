"""Records (id, text, metadata) streamed from a corpus file: JSONL, Parquet, CSV/TSV with a header row, or plain
lines. Every command that reads records reads them here, the same way; `read_texts` reads the texts of the
shared corpora's files (STS-B and SST-2 TSV without a header, JSONL {text}, plain lines) for training, parity
and tests.

Records are read one at a time (Parquet a row group at a time), so a file of any size reads in flat memory.
A record without an id gets `<file name>:<n>`, n its line (JSONL, plain lines) or row (CSV, Parquet) from 1:
stable across reruns, and two files of notes without ids never collide (numbering each from 1 made the second
file's notes replace the first's under --upsert). Metadata is the JSONL `metadata` object where there is one,
else the fields (columns) other than the id and the text, or None when there are none.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from ..errors import EmbedliteError, require

LINE_FORMATS = (".jsonl", ".ndjson")
CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}


class Record(NamedTuple):
    id: str
    text: str
    metadata: dict | None


def read_records(path: Path, id_field: str = "id", text_field: str = "text") -> Iterator[Record]:
    """Every record of `path`, in file order; a bad record is an error naming its line or row."""
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


def _jsonl(path: Path, id_field: str, text_field: str) -> Iterator[Record]:
    with open(path, encoding="utf-8") as f:
        for number, line in _numbered(path, f):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EmbedliteError(f"{path}:{number}: not valid JSON: {exc}") from None
            if not isinstance(row, dict):
                raise EmbedliteError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            yield _record(row, path, number, id_field, text_field, f"{path}:{number}")


def _csv(path: Path, id_field: str, text_field: str, delimiter: str) -> Iterator[Record]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        if reader.fieldnames is None or text_field not in reader.fieldnames:
            raise EmbedliteError(
                f"{path}: the header row {reader.fieldnames} has no {text_field!r} column (name it with --text-field)"
            )
        number = 0
        try:
            for number, row in enumerate(reader, 1):
                yield _record(row, path, number, id_field, text_field, f"{path}: row {number}")
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, f"row {number + 1}", exc) from None
        except csv.Error as exc:  # a field over csv's limit (128 KB), a NUL byte, a quote left open at the end
            hint = (
                f" (a field over {csv.field_size_limit()} characters, the csv module's limit: give texts this "
                "long as JSONL or Parquet)"
                if "field limit" in str(exc)
                else ""
            )
            raise EmbedliteError(f"{path}: row {number + 1} (line {reader.line_num}): {exc}{hint}") from None


def _parquet(path: Path, id_field: str, text_field: str) -> Iterator[Record]:
    parquet = require("pyarrow.parquet", "parquet", "Reading Parquet")
    file = parquet.ParquetFile(path)
    names = file.schema_arrow.names
    if text_field not in names:
        raise EmbedliteError(
            f"{path} has no {text_field!r} column (columns: {', '.join(names)}); name it with --text-field"
        )
    number = 0
    for batch in file.iter_batches():
        for row in batch.to_pylist():
            number += 1
            yield _record(row, path, number, id_field, text_field, f"{path}: row {number}")


def _lines(path: Path) -> Iterator[Record]:
    with open(path, encoding="utf-8") as f:
        for number, line in _numbered(path, f):
            if line.strip():
                yield Record(f"{path.name}:{number}", line.rstrip("\r\n"), None)


def _numbered(path: Path, lines) -> Iterator[tuple[int, str]]:
    """(line number, line), or an error naming the first line that is not UTF-8."""
    number = 0
    try:
        for number, line in enumerate(lines, 1):
            yield number, line
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, f"line {number + 1}", exc) from None


def _not_utf8(path: Path, where: str, exc: UnicodeDecodeError) -> EmbedliteError:
    return EmbedliteError(f"{path}: not UTF-8 text at or after {where} ({exc.reason}); convert the file to UTF-8")


def _record(row: dict, path: Path, number: int, id_field: str, text_field: str, where: str) -> Record:
    text = row.get(text_field)
    if not isinstance(text, str):
        raise EmbedliteError(
            f"{where}: expected a string in field {text_field!r}, got "
            f"{'nothing' if text is None else type(text).__name__}"
        )
    key = row.get(id_field)
    metadata = (
        row.get("metadata")
        if "metadata" in row
        else {k: v for k, v in row.items() if isinstance(k, str) and k not in (id_field, text_field)} or None
    )
    if metadata is not None and not isinstance(metadata, dict):
        raise EmbedliteError(f"{where}: field 'metadata' must be a JSON object, got {type(metadata).__name__}")
    return Record(f"{path.name}:{number}" if key is None or key == "" else str(key), text, metadata)


def read_texts(path: Path) -> Iterator[str]:
    """The texts of one file, in file order, as written."""
    path = Path(path)
    if not path.is_file():
        raise EmbedliteError(f"text file not found: {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".jsonl":
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield json.loads(line)["text"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise EmbedliteError(f"{path}:{number}: expected a JSON object with a 'text' field") from None
    elif path.suffix == ".csv" and lines and is_sts_csv(lines[0]):
        for first, second, _ in sts_csv_rows(path, lines):
            yield first
            yield second
    elif path.suffix in (".csv", ".tsv"):
        for line in lines:
            cols = line.split("\t")
            if len(cols) >= 7:  # STS Benchmark: both sentences
                yield cols[5]
                yield cols[6]
            elif cols and cols[0] != "sentence":  # SST-2: sentence, label
                yield cols[0]
    else:
        yield from lines


def is_sts_csv(first_line: str) -> bool:
    """Whether a line is a row of stsb-multi-mt's CSV: sentence1, sentence2, score (no header, no tabs)."""
    if "\t" in first_line:
        return False
    row = next(csv.reader([first_line]), [])
    try:
        return len(row) == 3 and 0 <= float(row[2]) <= 5
    except ValueError:
        return False


def sts_csv_rows(path: Path, lines: list[str]) -> Iterator[tuple[str, str, float]]:
    """(sentence1, sentence2, score) of each row of stsb-multi-mt's CSV; a bad row is named by file and line."""
    for number, cols in enumerate(csv.reader(lines), 1):
        try:
            score = float(cols[2])
        except (IndexError, ValueError):
            raise EmbedliteError(f"{path}:{number}: expected sentence1, sentence2, score") from None
        yield cols[0], cols[1], score


def distinct_texts(texts: Iterable[str]) -> list[str]:
    """Stripped, non-empty, each once, in first-seen order."""
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))
