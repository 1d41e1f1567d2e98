"""Small real sentence-transformers models built for tests, with the MiniLM tokenizer."""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def tiny_bert_st(minilm_dir: Path, out: Path, pooling: str = "cls", dense_dim: int | None = 48,
                 normalize: bool = True, seed: int = 0) -> Path:
    """A 2-layer random BERT with the given pooling, an optional Dense layer, saved as an ST directory."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    hf_dir = out.parent / f"{out.name}-hf"
    config = BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=128)
    BertModel(config).save_pretrained(hf_dir)
    for name in TOKENIZER_FILES:
        shutil.copy(minilm_dir / name, hf_dir / name)
    transformer = models.Transformer(str(hf_dir), max_seq_length=64)
    modules = [transformer, models.Pooling(64, pooling_mode=pooling)]
    if dense_dim:
        modules.append(models.Dense(64, dense_dim, activation_function=torch.nn.Tanh()))
    if normalize:
        modules.append(models.Normalize())
    SentenceTransformer(modules=modules, device="cpu").save(str(out))
    return out
