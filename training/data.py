"""Training texts from the shared corpora's formats: STS-B TSV, SST-2 TSV, JSONL {text}, plain lines; long texts
optionally cut into windows of a few sentences."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from embedlite.errors import EmbedliteError
from embedlite.files.records import distinct_texts, read_texts

T = TypeVar("T")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class TextSource:
    """A file of texts; window > 0 cuts each text into windows of that many sentences (long reviews become
    sentence-length training texts); limit keeps the first texts only, which is not a sample where a file is
    ordered (STS-B train by genre; each shared amazon train file lists its ~410 negative reviews first, so the
    recipes' `window = 2, limit = 600` reads reviews 0-151 only); spread = true takes limit's texts evenly across
    the file instead (every k-th; the same texts on every call); teacher_task: the teacher's prompt for this
    file's texts instead of the recipe's (passages read as documents), where no other source reads them."""

    path: Path
    window: int = 0
    limit: int | None = None
    teacher_task: str | None = None
    spread: bool = False

    @classmethod
    def of(cls, value: TextSource | Path | str | dict) -> TextSource:
        """A source from a path, or a TOML table {path, window, limit, spread, teacher_task}."""
        if isinstance(value, TextSource):
            return value
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"path", "window", "limit", "spread", "teacher_task"})
            if unknown or "path" not in value:
                raise EmbedliteError(
                    f"a text source is {{path, window, limit, spread, teacher_task}}; got keys {sorted(value)}"
                )
            spread = value.get("spread", False)
            if not isinstance(spread, bool):
                raise EmbedliteError(f"{value['path']}: spread is true or false; got {spread!r}")
            if spread and value.get("limit") is None:
                raise EmbedliteError(f"{value['path']}: spread takes a limit's texts across the file; set a limit")
            return cls(
                Path(value["path"]),
                int(value.get("window", 0)),
                value.get("limit"),
                value.get("teacher_task"),
                spread,
            )
        return cls(Path(value))

    def pick(self, texts: list[T]) -> list[T]:
        """This source's share of its file's distinct texts (windows) or pairs: the first `limit`, or `limit`
        spread evenly."""
        if self.limit is None or self.limit >= len(texts):
            return texts
        if not self.spread:
            return texts[: self.limit]
        return [texts[i * len(texts) // self.limit] for i in range(self.limit)]


def load_texts(sources: Iterable[TextSource | Path | str], limit: int | None = None) -> list[str]:
    """Distinct non-empty texts of all sources, in file order."""
    parsed = [TextSource.of(s) for s in sources]
    texts: list[str] = []
    for source in parsed:
        texts += source.pick(distinct_texts(_windows(read_texts(source.path), source.window)))
    texts = distinct_texts(texts)
    if not texts:
        raise EmbedliteError(f"no texts in {', '.join(str(s.path) for s in parsed)}")
    return texts[:limit]


def teacher_tasks(sources: Iterable[TextSource], default: str | None) -> dict[str, str | None]:
    """The teacher's task for each text of `sources`: its source's teacher_task, or `default` where no source
    names one or where a source without one reads the same text too (a sentence keeps one target)."""
    tasks: dict[str, str | None] = {}
    for source in sources:
        task = source.teacher_task or default
        for text in load_texts([source]):
            tasks[text] = task if tasks.get(text, task) == task else default
    return tasks


def _windows(texts: Iterable[str], window: int) -> Iterator[str]:
    for text in texts:
        if window <= 0:
            yield text
            continue
        sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
        for start in range(0, len(sentences), window):
            yield " ".join(sentences[start : start + window])
