"""A student's vocabulary pruned to the tokens its languages use: a SentencePiece (Unigram) tokenizer keeps the
pieces that tokenising a corpus picks, every single-character piece (so no character the full vocabulary knows
becomes <unk>: a word whose pieces were dropped is spelt with shorter ones) and the special tokens; the word
embedding keeps the same rows. multilingual-e5-small's 250,002 pieces are 96M of its 118M parameters."""

from __future__ import annotations

import json
from collections.abc import Iterable

from embedlite.errors import EmbedliteError

METASPACE = "\u2581"


def kept_pieces(tokenizer_json: str, texts: Iterable[str], batch: int = 4096) -> list[int]:
    """The ids a pruned vocabulary keeps, in their original order: specials, single characters, and every
    piece that tokenising `texts` uses."""
    from tokenizers import Tokenizer

    spec = json.loads(tokenizer_json)
    model = spec["model"]
    if model.get("type") != "Unigram":
        raise EmbedliteError(
            f"only a Unigram (SentencePiece) vocabulary can be pruned; this tokenizer is {model.get('type')}"
        )
    keep = {t["id"] for t in spec.get("added_tokens", [])} | {model["unk_id"]}
    keep |= {i for i, (piece, _) in enumerate(model["vocab"]) if len(piece.replace(METASPACE, "")) <= 1}
    tokenizer = Tokenizer.from_str(tokenizer_json)
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == batch:
            keep.update(i for e in tokenizer.encode_batch(chunk) for i in e.ids)
            chunk = []
    keep.update(i for e in tokenizer.encode_batch(chunk) for i in e.ids)
    return sorted(keep)


def pruned_tokenizer(tokenizer_json: str, kept: list[int]) -> str:
    """tokenizer.json with only the pieces `kept` (old ids, ascending), renumbered 0..len(kept)-1 in that order:
    the Unigram vocabulary, its unk id, the added tokens and the post-processor's special tokens."""
    spec = json.loads(tokenizer_json)
    new_id = {old: new for new, old in enumerate(kept)}
    model = spec["model"]
    missing = [t["content"] for t in spec.get("added_tokens", []) if t["id"] not in new_id]
    if missing or model["unk_id"] not in new_id:
        raise EmbedliteError(f"a pruned vocabulary must keep the special tokens; it drops {missing or ['<unk>']}")
    model["vocab"] = [model["vocab"][old] for old in kept]
    model["unk_id"] = new_id[model["unk_id"]]
    for token in spec.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    for special in (spec.get("post_processor") or {}).get("special_tokens", {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    return json.dumps(spec, ensure_ascii=False)


def prune_student_vocabulary(model, texts: Iterable[str]):
    """A sentence-transformers model (BERT family, Unigram tokenizer) with its vocabulary and word embeddings
    pruned to what `texts` need (see kept_pieces); changed in place and returned."""
    import torch
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    transformer = model[0]
    old = transformer.tokenizer
    tokenizer_json = old.backend_tokenizer.to_str()
    kept = kept_pieces(tokenizer_json, texts)
    fast = Tokenizer.from_str(pruned_tokenizer(tokenizer_json, kept))
    specials = {
        name: getattr(old, name)
        for name in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
        if getattr(old, name)
    }
    new = PreTrainedTokenizerFast(
        tokenizer_object=fast, model_max_length=old.model_max_length, padding_side=old.padding_side, **specials
    )
    transformer.processor = new  # sentence-transformers 5: the tokenizer is its text processor
    encoder = transformer.auto_model
    table = encoder.get_input_embeddings().weight.detach()[torch.tensor(kept)].clone()
    encoder.set_input_embeddings(torch.nn.Embedding.from_pretrained(table, freeze=False, padding_idx=new.pad_token_id))
    encoder.config.vocab_size = len(kept)
    encoder.config.pad_token_id = new.pad_token_id
    return model
