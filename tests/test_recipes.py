"""The shipped recipes: they load and validate as they are, train on no test split, and run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedlite.errors import EmbedliteError

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def recipe(name: str, overrides: dict | None = None):
    from embedlite.training import config_from_file

    return config_from_file(RECIPES / f"{name}.toml", overrides)


@pytest.mark.parametrize("name", ["embedlite-small", "embedlite-tiny"])
def test_recipe_loads_validates_and_reads_no_test_split(name, data_dir):
    config = recipe(name)
    config.validate()
    assert config.teacher == "all-mpnet-base-v2" and config.projection == "learned"
    assert config.matryoshka_dims == (384, 256, 128, 64) and config.qat_bits == (8, 4)
    assert [m.name for m in config.mixtures] == ["sentences", "reviews"]
    assert [p.path.name for p in (*config.train_pairs, *config.matryoshka_axes)] == ["sts-train.csv"] * 2
    for source in (*config.train_pairs, *config.matryoshka_axes, *(s for m in config.mixtures for s in m.train_texts)):
        assert source.path.resolve().is_relative_to(data_dir.resolve()), source.path
        assert source.path.is_file(), source.path
        assert "test" not in source.path.name and "dev" not in source.path.name, source.path


def test_every_recipe_validates_and_trains_on_no_dev_or_test_split(data_dir):
    for path in sorted(RECIPES.glob("*.toml")):
        config = recipe(path.stem)
        config.validate()
        sources = (
            *config.train_texts,
            *config.train_pairs,
            *config.matryoshka_axes,
            *config.language_neutral,
            *config.centre,
            *config.student_vocabulary,
            *(s for m in config.mixtures for s in m.train_texts),
        )
        paths = [*(s.path for s in sources), *(p for t in config.translations for p in (t.path, t.pivot))]
        for source in paths:
            assert source.resolve().is_relative_to(data_dir.resolve()), (path.name, source)
            assert "test" not in source.name and "dev" not in source.name, (path.name, source)


def test_the_multilingual_recipe_keeps_e5s_prompt_and_the_five_test_languages(data_dir):
    config = recipe("embedlite-multilingual")
    assert config.student_source == "multilingual-e5-small" and config.prompt == "query: "
    assert config.teacher == "embeddinggemma-300m" and config.teacher_task == "STS"
    trained = {s.path.name for m in config.mixtures for s in m.train_texts}
    assert {f"stsb-{lang}-train.csv" for lang in ("de", "es", "fr", "ja", "zh")} <= trained
    assert len(config.student_vocabulary) == 11  # English and the ten stsb-multi-mt languages


def test_multilingual_v2_matches_each_language_to_its_english_translation(data_dir):
    from embedlite.training.translations import pivots

    config = recipe("embedlite-multilingual-v2")
    assert config.mixtures == recipe("embedlite-multilingual").mixtures and config.translation_weight == 1.0
    assert {t.path.name for t in config.translations} == {f"stsb-{x}-train.csv" for x in ("de", "es", "fr", "ja", "zh")}
    pivot_of = pivots(config.translations)
    assert pivot_of["Ein Flugzeug hebt gerade ab."] == "A plane is taking off."  # line 1 of de and en


def test_tiny_extends_small_with_its_own_student_and_output():
    small, tiny = recipe("embedlite-small"), recipe("embedlite-tiny")
    assert tiny.student_source == "paraphrase-MiniLM-L3-v2" and small.student_source == "all-MiniLM-L6-v2"
    assert tiny.output.name == "embedlite-tiny" and small.output.name == "embedlite-small"
    same = ("teacher", "projection", "matryoshka_dims", "hard_negatives", "epochs", "learning_rate", "qat_bits")
    assert all(getattr(tiny, f) == getattr(small, f) for f in same)
    assert [[s.path.resolve() for s in m.train_texts] for m in tiny.mixtures] == [
        [s.path.resolve() for s in m.train_texts] for m in small.mixtures
    ]


def test_a_shipped_student_teaches_and_starts_a_student_by_its_name():
    """A shipped model's name is a teacher's or a student source's name, not a path beside the recipe (it was read
    as recipes/embedlite-small-v3: "file not found")."""
    config = recipe("embedlite-tiny-v5")
    config.validate()
    assert config.teacher == "embedlite-small-v3" and config.teacher_task is None
    assert config.student_source == "paraphrase-MiniLM-L3-v2" and config.qat_bits == ()
    config = recipe("embedlite-tiny-v6")
    config.validate()
    assert (config.teacher, config.student_source, config.student_layers) == (
        "embedlite-small-v3",
        "embedlite-small-v3",
        (1, 3, 5),
    )


def test_recipes_that_extend_each_other_in_a_loop_fail(tmp_path):
    from embedlite.training import config_from_file

    (tmp_path / "a.toml").write_text('extends = "b.toml"\noutput = "x"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(EmbedliteError, match="in a loop"):
        config_from_file(tmp_path / "a.toml")


def test_tiny_recipe_runs_end_to_end(tmp_path, data_dir):
    """The tiny recipe as it is (L3 student, both mixtures, teacher-ranked pairs, hard negatives, merge, Matryoshka
    axes, int8+int4 QAT), with a small teacher and a few hundred texts so it fits in a test."""
    from sentence_transformers import SentenceTransformer

    from embedlite.training import distill

    config = recipe(
        "embedlite-tiny",
        {
            "teacher": "all-MiniLM-L6-v2",
            "max_texts": 160,
            "batch_size": 32,
            "max_seq_length": 32,
            "output": tmp_path / "tiny",
            "pair_batch_size": 16,
            "train_pairs": [{"path": data_dir / "stsb" / "sts-train.csv", "limit": 64}],
            "matryoshka_axes": [{"path": data_dir / "stsb" / "sts-train.csv", "limit": 200}],
            "matryoshka_axes_steps": 50,
            "cache_dir": tmp_path / "cache",
        },
    )
    out = distill(config, progress=False)
    record = json.loads((out / "distill.json").read_text())
    assert [p["name"] for p in record["phases"]] == ["sentences", "reviews", "qat"]
    assert record["phases"][-1]["qat_bits"] == [8, 4] and record["texts"] >= 160  # both start with STS-B train
    assert all("pairs@64" in p["first_losses"] for p in record["phases"])
    assert (out / "runs" / "sentences").is_dir() and (out / "runs" / "reviews").is_dir()  # merged into `out`
    student = SentenceTransformer(str(out), device="cpu")
    assert student[0].auto_model.config.num_hidden_layers == 3
    assert [type(m).__name__ for m in student] == ["Transformer", "Pooling", "Dense"]  # matryoshka axes; L3: no norm
    vectors = student.encode(["a man plays a guitar", "someone plays an instrument", "the stock market fell"])
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
