"""EmbeddingGemma-shaped sentence-transformers directories with random weights (no checkpoint is reachable
offline): Gemma3TextModel with bidirectional attention -> mean pooling -> Dense 768->3072 -> Dense 3072->768
-> Normalize, and the task prompts google/embeddinggemma-300m ships."""

from __future__ import annotations

import shutil
from pathlib import Path

PROMPTS = {
    "query": "task: search result | query: ",
    "document": "title: none | text: ",
    "classification": "task: classification | query: ",
    "clustering": "task: clustering | query: ",
    "sentence_similarity": "task: sentence similarity | query: ",
}
CONFIGS = {
    # google/embeddinggemma-300m
    "308m": dict(vocab_size=262144, hidden_size=768, num_hidden_layers=24, num_attention_heads=3,
                 num_key_value_heads=1, head_dim=256, intermediate_size=1152, max_position_embeddings=2048,
                 sliding_window=512, dense_dim=3072, max_seq_length=2048),
    "tiny": dict(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                 num_key_value_heads=1, head_dim=32, intermediate_size=128, max_position_embeddings=256,
                 sliding_window=16, dense_dim=256, max_seq_length=64),
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def build_embeddinggemma(out: Path, size: str, tokenizer_dir: Path, seed: int = 0) -> Path:
    """Save a random-weight EmbeddingGemma of `size` ('tiny' or '308m') as a sentence-transformers directory.

    tokenizer_dir supplies tokenizer files (the Gemma tokenizer is not available offline); its vocabulary
    must fit the config's.
    """
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import Gemma3TextConfig, Gemma3TextModel

    if size not in CONFIGS:
        raise ValueError(f"unknown EmbeddingGemma size {size!r}; choose from {', '.join(CONFIGS)}")
    spec = dict(CONFIGS[size])
    dense_dim, max_len = spec.pop("dense_dim"), spec.pop("max_seq_length")
    torch.manual_seed(seed)
    config = Gemma3TextConfig(**spec, use_bidirectional_attention=True, pad_token_id=0)
    out = Path(out)
    hf_dir = out.parent / f"{out.name}-hf"
    Gemma3TextModel(config).save_pretrained(hf_dir)
    for name in TOKENIZER_FILES:
        shutil.copy(Path(tokenizer_dir) / name, hf_dir / name)
    hidden = spec["hidden_size"]
    modules = [
        models.Transformer(str(hf_dir), max_seq_length=max_len),
        models.Pooling(hidden, pooling_mode="mean"),
        models.Dense(hidden, dense_dim, bias=False, activation_function=torch.nn.Identity()),
        models.Dense(dense_dim, hidden, bias=False, activation_function=torch.nn.Identity()),
        models.Normalize(),
    ]
    SentenceTransformer(modules=modules, prompts=PROMPTS, device="cpu").save(str(out))
    shutil.rmtree(hf_dir)
    return out
