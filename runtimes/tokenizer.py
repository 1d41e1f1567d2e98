"""Tokenisation from an artifact's tokenizer.json with the `tokenizers` library."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from embedlite.errors import ArtifactError

# Texts are cut to max_length * CHARS_PER_TOKEN characters before tokenising. English runs at ~4 characters a
# token and code or CJK at fewer, so the cut never removes a token the model would have read (only runs of
# whitespace or words over 100 characters, one [UNK] each, get this sparse); without it a 3 MB text held the GIL
# for seconds and its overflowing encodings took ~150x its size in memory.
CHARS_PER_TOKEN = 32


class TextTokenizer:
    """Truncates to the model's max length; batches are padded to their longest text."""

    def __init__(self, path: Path, max_length: int):
        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise ArtifactError(f"{path} is not a valid tokenizer.json: {exc}") from None
        self.max_length = max_length
        self.max_chars = max_length * CHARS_PER_TOKEN
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=max_length)
        pad = None
        for token in ("[PAD]", "<pad>"):
            pad = self._tok.token_to_id(token)
            if pad is not None:
                break
        self.pad_id = pad or 0

    def encode(self, texts: list[str]) -> tuple[list[list[int]], int]:
        """Token ids of each text, and how many texts lost tokens to truncation (by characters or tokens)."""
        limit = self.max_chars
        cut = [t[:limit] for t in texts]  # slicing a shorter str returns it as is, no copy
        try:  # one text: encode, as encode_batch wakes a thread pool (0.1 ms of a 2 ms batch-1 call here)
            encodings = [self._tok.encode(cut[0])] if len(cut) == 1 else self._tok.encode_batch(cut)
        except TypeError:  # tokenizers cannot take a str that is not valid Unicode (a lone surrogate)
            raise ValueError(_first_unencodable(cut)) from None
        return [e.ids for e in encodings], sum(bool(e.overflowing) or len(t) > limit for e, t in zip(encodings, texts))


def _first_unencodable(texts: list[str]) -> str:
    for i, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"texts[{i}] is not valid Unicode: it holds the lone surrogate {text[exc.start]!r} "
                "(decode the input with errors='replace', or fix its source)"
            )
    return "a text could not be tokenised: it is not valid Unicode"


def pad_batch(ids: list[list[int]], pad_id: int, width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token id lists into (input_ids, attention_mask) int64 arrays."""
    if width is None:
        width = max((len(row) for row in ids), default=0)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return input_ids, mask
