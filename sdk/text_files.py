"""Texts from the formats the shared corpora come in: STS-B TSV (both sentences), SST-2 TSV, JSONL {text},
plain lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import EmbedliteError


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


def distinct_texts(texts: Iterable[str]) -> list[str]:
    """Stripped, non-empty, each once, in first-seen order."""
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))
