"""Training texts from the shared corpora's formats: STS-B TSV, SST-2 TSV, JSONL {text}, plain lines."""

from __future__ import annotations

import json
from pathlib import Path

from embedlite.errors import EmbedliteError


def load_texts(paths, limit: int | None = None) -> list[str]:
    """Distinct non-empty texts, in file order."""
    seen: dict[str, None] = {}
    for path in map(Path, paths):
        for text in _read(path):
            text = text.strip()
            if text:
                seen.setdefault(text)
    texts = list(seen)
    if not texts:
        raise EmbedliteError(f"no texts in {', '.join(map(str, paths))}")
    return texts[:limit] if limit else texts


def _read(path: Path):
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
