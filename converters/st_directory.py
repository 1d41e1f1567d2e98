"""Save a Hugging Face encoder with its tokenizer files as a sentence-transformers directory."""

from __future__ import annotations

import shutil
from pathlib import Path

from torch import nn

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def save_sentence_transformer(
    encoder,
    tokenizer_dir: Path,
    out: Path,
    *,
    max_seq_length: int,
    pooling: str = "mean",
    after_pooling: tuple[nn.Module, ...] = (),
    normalize: bool = True,
    prompts: dict[str, str] | None = None,
    default_prompt_name: str | None = None,
) -> Path:
    """encoder (a transformers PreTrainedModel) -> Transformer -> Pooling -> after_pooling... -> Normalize?, saved
    at `out` with the tokenizer files found in tokenizer_dir."""
    from sentence_transformers import SentenceTransformer, models

    out = Path(out)
    hf_dir = out.parent / f".{out.name}-hf"
    encoder.save_pretrained(hf_dir)
    for name in TOKENIZER_FILES:
        if (Path(tokenizer_dir) / name).is_file():
            shutil.copy(Path(tokenizer_dir) / name, hf_dir / name)
    try:
        modules = [
            models.Transformer(str(hf_dir), max_seq_length=max_seq_length),
            models.Pooling(encoder.config.hidden_size, pooling_mode=pooling),
            *after_pooling,
        ]
        if normalize:
            modules.append(models.Normalize())
        SentenceTransformer(
            modules=modules, prompts=prompts, default_prompt_name=default_prompt_name, device="cpu"
        ).save(str(out))
    finally:
        shutil.rmtree(hf_dir, ignore_errors=True)
    return out
