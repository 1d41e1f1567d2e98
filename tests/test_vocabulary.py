"""A student's SentencePiece vocabulary pruned to its corpus: the corpus tokenises and embeds as before."""

import json

import numpy as np
import pytest

from embedlite import EmbedliteError
from embedlite.training.vocabulary import kept_pieces, pruned_tokenizer

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
PIECES = {"▁the": -2.0, "▁cat": -3.0, "▁ca": -4.0, "▁dog": -3.0, "▁do": -4.5, "▁": -5.0}
CHARS = "thecadogsx"


def _unigram() -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = [(s, 0.0) for s in SPECIALS] + list(PIECES.items()) + [(c, -8.0) for c in CHARS]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=3))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer.add_special_tokens(SPECIALS)
    return tokenizer.to_str()


def _tokens(spec: str, text: str) -> list[str]:
    from tokenizers import Tokenizer

    return Tokenizer.from_str(spec).encode(text).tokens


def test_the_corpus_keeps_its_pieces_and_other_words_are_spelt_not_unknown():
    full = _unigram()
    kept = kept_pieces(full, ["the cat", "the cat"])
    pruned = pruned_tokenizer(full, kept)
    pieces = [p for p, _ in json.loads(pruned)["model"]["vocab"]]
    assert "▁dog" not in pieces and "▁do" not in pieces and "▁cat" in pieces and pieces[:4] == SPECIALS
    assert _tokens(pruned, "the cat") == _tokens(full, "the cat") == ["<s>", "▁the", "▁cat", "</s>"]
    assert _tokens(full, "dogs") == ["<s>", "▁dog", "s", "</s>"]
    assert _tokens(pruned, "dogs") == ["<s>", "▁", "d", "o", "g", "s", "</s>"]  # no <unk>: single characters stay
    ids = json.loads(pruned)["post_processor"]["special_tokens"]["</s>"]["ids"]
    assert ids == [pieces.index("</s>")]


def test_only_a_unigram_vocabulary_is_pruned(minilm_dir):
    with pytest.raises(EmbedliteError, match="only a Unigram .* this tokenizer is WordPiece"):
        kept_pieces((minilm_dir / "tokenizer.json").read_text(), ["the cat"])


def test_a_pruned_student_embeds_its_corpus_as_before(tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    from embedlite.converters.st_directory import save_sentence_transformer
    from embedlite.training.vocabulary import prune_student_vocabulary

    torch.manual_seed(0)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_unigram()),
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        cls_token="<s>",
        sep_token="</s>",
    )
    tokenizer.save_pretrained(tmp_path / "tok")
    vocab = 4 + len(PIECES) + len(CHARS)
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        pad_token_id=1,
    )
    save_sentence_transformer(
        BertModel(config, add_pooling_layer=False), tmp_path / "tok", tmp_path / "st", max_seq_length=16
    )
    model = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    corpus = ["the cat", "cat", "the the cat"]
    before = model.encode(corpus)
    pruned = prune_student_vocabulary(model, corpus)
    assert pruned[0].auto_model.config.vocab_size < vocab
    np.testing.assert_allclose(pruned.encode(corpus), before, atol=1e-6)
    pruned.save(str(tmp_path / "pruned"))
    np.testing.assert_allclose(
        SentenceTransformer(str(tmp_path / "pruned"), device="cpu").encode(corpus), before, atol=1e-6
    )
