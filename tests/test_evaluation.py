"""Cross-lingual retrieval from translated STS sets, and the stsb-multi-mt CSV read as training text."""

import numpy as np
import pytest

from embedlite import Embedder, EmbedliteError
from embedlite.evaluation import StsData, load_sts, parallel_pairs, parallel_retrieval
from embedlite.files.records import read_texts


def test_translations_pair_row_for_row_and_each_sentence_has_one_right_answer():
    english = StsData(["a", "b", "c"], ["d", "a", "e"], np.array([1.0, 2.0, 3.0]))
    german = StsData(["A", "B", "C"], ["D", "A", "C"], np.array([1.0, 2.0, 3.0]))
    sources, targets = parallel_pairs(english, german)
    # "a" -> "A" twice is one pair; "C" translates both "c" and "e": neither is a fair question
    assert list(zip(sources, targets)) == [("a", "A"), ("b", "B"), ("d", "D")]


def test_sets_that_are_not_translations_are_refused():
    english = StsData(["a"], ["b"], np.array([1.0]))
    with pytest.raises(EmbedliteError, match="not translations row for row"):
        parallel_pairs(english, StsData(["A"], ["B"], np.array([2.0])))


def test_a_sentence_finds_itself_first_and_an_english_model_misses_japanese(data_dir):
    embedder = Embedder()  # the English default
    english = load_sts(data_dir / "stsb" / "sts-test.csv", limit=60)
    japanese = load_sts(data_dir / "stsb-multi-mt" / "stsb-ja-test.csv", limit=60)
    sources, targets = parallel_pairs(english, japanese)
    assert len(sources) > 80  # 120 sentences, some twice or translated alike
    assert parallel_retrieval(embedder, sources, sources) == {"accuracy@1": 1.0, "ndcg@10": 1.0}
    across = parallel_retrieval(embedder, sources, targets)
    assert 0 <= across["accuracy@1"] < 0.5 and across["accuracy@1"] <= across["ndcg@10"] < 1


def test_the_multilingual_sts_csv_gives_both_sentences_and_names_a_bad_row(data_dir, tmp_path):
    texts = list(read_texts(data_dir / "stsb-multi-mt" / "stsb-de-dev.csv"))
    assert len(texts) == 3000 and texts[:2] == load_sts(data_dir / "stsb-multi-mt" / "stsb-de-dev.csv").sentences1[
        :1
    ] + [load_sts(data_dir / "stsb-multi-mt" / "stsb-de-dev.csv").sentences2[0]]
    bad = tmp_path / "pairs.csv"
    bad.write_text('"Ein Satz.","Noch einer.",4.0\n"Nur einer",x\n', encoding="utf-8")
    with pytest.raises(EmbedliteError, match=r"pairs.csv:2: expected sentence1, sentence2, score"):
        list(read_texts(bad))
