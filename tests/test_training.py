"""Distillation parts on hand-checked inputs and tiny real models; a short end-to-end run with the real teacher."""

import copy
import json
import math

import numpy as np
import pytest
import torch

from embedlite import EmbedliteError
from embedlite.training import DistillConfig, distill, losses, merge, qat
from embedlite.training.data import TextSource
from embedlite.training.student import (
    centre_output,
    decoder_to_encoder,
    from_teacher_layers,
    language_directions,
    matryoshka_axes,
    project_out,
    random_bert,
    rotate_output,
)


def test_embedding_matching():
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert losses.embedding_matching(t, t) == pytest.approx(0.0)
    assert losses.embedding_matching(t.flip(1), t) == pytest.approx(1.0)  # orthogonal


def test_similarity_matching_is_rotation_invariant():
    t = torch.randn(6, 4)
    rotation, _ = torch.linalg.qr(torch.randn(4, 4))
    assert losses.similarity_matching(t @ rotation, t) == pytest.approx(0.0, abs=1e-6)
    assert losses.similarity_matching(torch.randn(6, 4), t) > 0.05


def test_similarity_correlation_ignores_the_teachers_cosine_band():
    # a teacher whose cosines are all shifted up (EmbeddingGemma's band): an extra shared direction added to each
    # vector raises every cosine; the plain MSE then penalises a student with the same order, correlation does not
    student = torch.nn.functional.normalize(torch.randn(8, 16), dim=-1)
    teacher = torch.cat([student, torch.ones(8, 1)], dim=1)
    assert losses.similarity_correlation(student, teacher) == pytest.approx(0.0, abs=1e-3)
    assert losses.similarity_matching(student, teacher) > 0.05
    assert losses.similarity_correlation(torch.randn(8, 16), teacher) > 0.3


def test_neighbour_distribution_ignores_the_band_and_weights_each_texts_nearest():
    torch.manual_seed(0)
    student = torch.nn.functional.normalize(torch.randn(8, 16), dim=-1)
    teacher = torch.cat([student, torch.ones(8, 1)], dim=1)  # the same order in a shifted band, as above
    assert losses.neighbour_distribution(student, teacher) == pytest.approx(0.0, abs=1e-4)
    # pairs of near-duplicates: swapping which text each one is closest to costs far more than noise that keeps
    # every text's nearest one in place
    base = torch.nn.functional.normalize(torch.randn(4, 16), dim=-1)
    teacher = torch.cat([base + 0.1 * torch.randn(4, 16), base + 0.1 * torch.randn(4, 16)])
    kept = teacher + 0.05 * torch.randn(8, 16)
    swapped = teacher[[4, 5, 6, 7, 1, 0, 3, 2]]  # text 0's near-duplicate is now text 5, not 4
    assert losses.neighbour_distribution(swapped, teacher) > 10 * losses.neighbour_distribution(kept, teacher)


def test_info_nce_by_hand():
    e = torch.eye(2)
    assert losses.info_nce(e, e, temperature=1.0) == pytest.approx(math.log(1 + math.exp(-1)))
    # SamToNe adds the other student embedding (dot 0) as a negative: -log(e / (e + 1 + 1)).
    assert losses.info_nce(e, e, temperature=1.0, same_tower=True) == pytest.approx(math.log(math.e + 2) - 1)
    # the margin takes 0.5 off the own pair's cosine: -log(e^0.5 / (e^0.5 + 1))
    assert losses.info_nce(e, e, temperature=1.0, margin=0.5) == pytest.approx(math.log(1 + math.exp(-0.5)))


def test_a_translation_ahead_by_less_than_the_margin_still_loses():
    # a shared direction (cosine 0.9 between any two texts) and each text's own one: a text's own translation
    # at cosine 0.95, the other's at 0.9, ahead but not by a margin of 0.1
    shared, own = math.sqrt(0.9), math.sqrt(0.1)
    a = torch.tensor([[shared, own, 0, 0, 0], [shared, 0, own, 0, 0]])
    sin = math.sqrt(0.75)  # the translation's own direction turned 60 degrees from the text's: cosine 0.5
    b = torch.tensor([[shared, own * 0.5, 0, own * sin, 0], [shared, 0, own * 0.5, 0, own * sin]])
    assert (a @ b.T).flatten().tolist() == pytest.approx([0.95, 0.9, 0.9, 0.95])
    plain = losses.info_nce(a, b, temperature=0.05)
    with_margin = losses.info_nce(a, b, temperature=0.05, margin=0.1)
    assert plain < math.log(2) < with_margin


def test_spread_out_by_hand():
    assert losses.spread_out(torch.eye(4)) == pytest.approx(0.0)  # orthogonal: mean 0, second moment 0
    same = torch.ones(3, 4)
    assert losses.spread_out(same) == pytest.approx(1.0 + (1.0 - 1 / 4))


def test_pair_ranking_counts_only_the_teachers_order():
    first = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    second = torch.tensor([[0.6, 0.8], [0.5, math.sqrt(0.75)]])  # the student's cosines: 0.6, 0.5
    right = losses.pair_ranking(first, second, torch.tensor([0.9, 0.1]))  # scale 20: log(1 + e^(20 (0.5 - 0.6)))
    assert right == pytest.approx(math.log(1 + math.exp(-2)), rel=1e-5)
    assert losses.pair_ranking(first, second, torch.tensor([0.5, 0.4])) == pytest.approx(float(right))
    wrong = losses.pair_ranking(first, second, torch.tensor([0.1, 0.9]))
    assert wrong == pytest.approx(math.log(1 + math.exp(2)), rel=1e-5)
    assert losses.pair_ranking(first, second, torch.tensor([0.3, 0.3])) == pytest.approx(0.0)  # a tie: no order


@pytest.mark.parametrize("bits", [8, 4])
def test_fake_quantize_grid_and_straight_through(bits):
    w = torch.randn(5, 16, requires_grad=True)
    q = qat.fake_quantize(w, bits)
    levels = 2 ** (bits - 1) - 1
    scale = w.detach().abs().amax(1, keepdim=True) / levels
    steps = q.detach() / scale
    assert torch.allclose(steps, steps.round(), atol=1e-4) and steps.abs().max() <= levels + 1e-4
    q.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


def test_qat_enable_disable_bakes_grid(minilm_dir, tmp_path):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(random_bert(minilm_dir, tmp_path / "s")), device="cpu")
    assert qat.enable(model, 8) == 2 * 6 + 1  # 2 layers x (q, k, v, out, up, down) + the BERT pooler
    qat.disable(model)
    w = model[0].auto_model.encoder.layer[0].attention.self.query.weight.detach()
    steps = w / (w.abs().amax(1, keepdim=True) / 127)
    assert torch.allclose(steps, steps.round(), atol=1e-3)


def test_layer_selection_copies_weights(st_minilm):
    student = from_teacher_layers(st_minilm, (0, 2, 4))
    s_layers = student[0].auto_model.encoder.layer
    t_layers = st_minilm[0].auto_model.encoder.layer
    assert len(s_layers) == 3 and student[0].auto_model.config.num_hidden_layers == 3 and len(t_layers) == 6
    for s, t in zip(s_layers, (t_layers[0], t_layers[2], t_layers[4])):
        for (name, a), (_, b) in zip(s.named_parameters(), t.named_parameters()):
            assert torch.equal(a, b), name
    assert student.encode(["still works"]).shape == (1, 384)
    with pytest.raises(EmbedliteError, match="layers 0..5"):
        from_teacher_layers(st_minilm, (0, 9))


def test_matryoshka_axes_keep_cosines_and_the_prefixes_keep_neighbours(st_minilm, data_dir):
    from embedlite.evaluation import load_sts, spearman

    sts = load_sts(data_dir / "stsb" / "sts-train.csv", 600)
    fit, held_out = sts.sentences1[:300] + sts.sentences2[:300], (sts.sentences1[300:], sts.sentences2[300:])
    axes = matryoshka_axes(st_minilm, fit, (384, 64), steps=200)
    assert np.allclose(axes @ axes.T, np.eye(384), atol=1e-4)
    rotated = rotate_output(copy.deepcopy(st_minilm), axes)
    assert [type(m).__name__ for m in rotated] == ["Transformer", "Pooling", "Dense", "Normalize"]
    assert not any(p.requires_grad for p in rotated[2].parameters())
    before, after = ([m.encode(texts) for texts in held_out] for m in (st_minilm, rotated))
    assert np.allclose((before[0] * before[1]).sum(1), (after[0] * after[1]).sum(1), atol=1e-4)  # full dim

    def prefix_agreement(pair):  # how well the 64-dim cosines of the held-out pairs rank as the full-dim ones
        short = [v[:, :64] / np.linalg.norm(v[:, :64], axis=1, keepdims=True) for v in pair]
        return spearman((short[0] * short[1]).sum(1), (pair[0] * pair[1]).sum(1))

    assert prefix_agreement(after) > prefix_agreement(before) + 0.008  # measured: 0.983 vs 0.970


def test_project_out_leaves_nothing_of_the_language_and_the_axes_fold_into_it(st_minilm, data_dir):
    from embedlite.evaluation import load_sts

    english = load_sts(data_dir / "stsb" / "sts-train.csv", 120).sentences1
    german = load_sts(data_dir / "stsb-multi-mt" / "stsb-de-train.csv", 120).sentences1
    spanish = load_sts(data_dir / "stsb-multi-mt" / "stsb-es-train.csv", 120).sentences1
    directions = language_directions(st_minilm, [english, german, spanish])
    assert directions.shape == (2, 384) and np.allclose(directions @ directions.T, np.eye(2), atol=1e-5)
    before = [st_minilm.encode(texts) for texts in (english, german)]
    assert np.abs(before[1] @ directions.T).mean() > 0.1  # an English model: German texts sit apart
    neutral = project_out(copy.deepcopy(st_minilm), directions)
    after = [neutral.encode(texts) for texts in (english, german)]
    assert np.abs(np.concatenate(after) @ directions.T).max() < 1e-5  # nothing left along them
    assert np.allclose(np.linalg.norm(after[1], axis=1), 1, atol=1e-5)
    axes = matryoshka_axes(neutral, english + german, (384, 64), steps=0)
    rotated = rotate_output(copy.deepcopy(neutral), axes)
    assert [type(m).__name__ for m in rotated] == ["Transformer", "Pooling", "Dense", "Normalize"]  # one layer
    assert np.allclose(rotated.encode(german), after[1] @ axes.T, atol=1e-5)


def test_centre_output_takes_the_shared_direction_off_and_composes(st_minilm, data_dir):
    from sentence_transformers import SentenceTransformer

    from embedlite.evaluation import load_sts

    texts = load_sts(data_dir / "stsb" / "sts-train.csv", 200).sentences1

    def raw(model):  # the embeddings before the normalisation
        return SentenceTransformer(modules=list(model)[:-1], device="cpu").encode(texts)

    before = raw(st_minilm)
    assert np.linalg.norm(before.mean(axis=0)) > 0.2  # measured: 0.44 (embeddings of norm 1)
    centred = centre_output(copy.deepcopy(st_minilm), texts)
    assert np.allclose(raw(centred), before - before.mean(axis=0), atol=1e-5)
    axes = matryoshka_axes(centred, texts, (384, 64), steps=0)
    rotated = rotate_output(centred, axes)  # the turn applies to the centred output, bias included
    assert [type(m).__name__ for m in rotated] == ["Transformer", "Pooling", "Dense", "Normalize"]
    assert np.allclose(raw(rotated), (before - before.mean(axis=0)) @ axes.T, atol=1e-5)
    assert not any(p.requires_grad for p in rotated[2].parameters())


def test_decoder_to_encoder_copies_weights_and_is_bidirectional(minilm_dir, tmp_path):
    from sentence_transformers import SentenceTransformer
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        intermediate_size=64,
        sliding_window=8,
    )
    lm = Gemma3ForCausalLM(config)
    lm.save_pretrained(tmp_path / "lm")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (tmp_path / "lm" / name).write_bytes((minilm_dir / name).read_bytes())
    st = SentenceTransformer(str(decoder_to_encoder(tmp_path / "lm", tmp_path / "enc")), device="cpu")
    encoder = st[0].auto_model
    assert encoder.config.use_bidirectional_attention
    for name, param in encoder.named_parameters():
        assert torch.equal(param, lm.state_dict()[f"model.{name}"]), name
    ids = torch.tensor([[5, 6, 7, 8]])
    first = encoder(input_ids=ids).last_hidden_state[0, 0]
    changed = encoder(input_ids=torch.tensor([[5, 6, 7, 9]])).last_hidden_state[0, 0]
    assert not torch.allclose(first, changed)  # the first token sees the last one: bidirectional


def test_merge_is_the_average(minilm_dir, tmp_path):
    from sentence_transformers import SentenceTransformer

    a = random_bert(minilm_dir, tmp_path / "a", seed=1)
    b = random_bert(minilm_dir, tmp_path / "b", seed=2)
    merged = SentenceTransformer(str(merge([a, b], tmp_path / "m")), device="cpu").state_dict()
    sa = SentenceTransformer(str(a), device="cpu").state_dict()
    sb = SentenceTransformer(str(b), device="cpu").state_dict()
    key = next(k for k in merged if k.endswith("layer.0.attention.self.query.weight"))
    assert torch.allclose(merged[key], (sa[key] + sb[key]) / 2, atol=1e-7)
    other = random_bert(minilm_dir, tmp_path / "c", hidden=32)
    with pytest.raises(EmbedliteError, match="does not have the architecture"):
        merge([a, other], tmp_path / "bad")


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(student="transformer-xl"), "unknown student init"),
        (dict(matryoshka_dims=(128, 256)), "largest first"),
        (dict(train_texts=("/no/such/file.tsv",)), "file not found"),
        (dict(teacher=None), "exactly one of teacher"),
        (dict(qat_bits=3), "qat_bits"),
        (dict(geometry="angles"), "geometry must be one of"),
        (dict(geometry="neighbours", geometry_temperature=0.0), "geometry_temperature must be above 0"),
        (dict(train_pairs=({"path": "pairs.csv", "window": 2},)), "takes no window"),
        (dict(train_pairs=("/no/such/pairs.csv",)), "file not found"),
        (dict(matryoshka_axes=("/no/such/texts.txt",)), "file not found"),
        (dict(matryoshka_axes=(__file__,), matryoshka_axes_steps=-1), "matryoshka_axes_steps"),
        (dict(language_neutral=(__file__,)), "one text file per language, two languages or more"),
        (dict(language_neutral=(__file__, "/no/such/texts.txt")), "file not found"),
        (dict(merge_initial=1.0), "merge_initial.*below 1"),
        (dict(merge_initial=0.3, student="random"), "random student has nothing to keep"),
        (dict(student_vocabulary=("/no/such/texts.txt",)), "file not found"),
        (dict(student_vocabulary=(__file__,), student="random"), "student_vocabulary prunes .* 'layers' student"),
        (dict(translations=({"path": __file__},)), "a translation is {path, pivot}"),
        (dict(train_pairs=({"path": __file__, "teacher_task": "STS"},)), "teacher_task is set on train_texts"),
        (
            dict(teacher=None, teacher_embeddings=__file__, train_texts=({"path": __file__, "teacher_task": "STS"},)),
            "teacher_task names a prompt of the teacher",
        ),
        (
            dict(train_texts=({"path": __file__, "tokens": 3},)),
            "a text source is {path, window, limit, spread, teacher_task}",
        ),
        (dict(train_texts=({"path": __file__, "spread": True},)), "spread takes a limit's texts .* set a limit"),
        (dict(train_texts=({"path": __file__, "limit": 3, "spread": "yes"},)), "spread is true or false"),
        (dict(train_pairs=({"path": __file__, "window": 2},)), "pair file takes no window"),
        (dict(translations=({"path": __file__, "pivot": "/no/such/en.csv"},)), "file not found"),
        (dict(translations=({"path": __file__, "pivot": __file__},), translation_weight=0), "translation_weight"),
        (dict(translation_contrast_weight=0.5), "translation_contrast_weight .* needs translations"),
        (
            dict(translations=({"path": __file__, "pivot": __file__},), translation_weight=0, translation_batch_size=1),
            "translation_weight",
        ),
        (
            dict(
                translations=({"path": __file__, "pivot": __file__},),
                translation_contrast_weight=1,
                translation_batch_size=1,
            ),
            "translation_batch_size must be at least 2",
        ),
        (
            dict(translations=({"path": __file__, "pivot": __file__},), translation_hard_negatives=2),
            "translation_hard_negatives .* needs translation_contrast_weight",
        ),
        (
            dict(translations=({"path": __file__, "pivot": __file__},), translation_margin=0.2),
            "translation_margin .* needs translation_contrast_weight",
        ),
        (
            dict(
                translations=({"path": __file__, "pivot": __file__},),
                translation_contrast_weight=1,
                translation_margin=1.5,
            ),
            "translation_margin must be from 0 to below 1",
        ),
    ],
)
def test_bad_config_fails_before_training(minilm_dir, data_dir, tmp_path, change, message):
    base = dict(train_texts=(data_dir / "stsb" / "sts-train.csv",), output=tmp_path / "out", teacher=minilm_dir)
    with pytest.raises(EmbedliteError, match=message):
        distill(DistillConfig(**{**base, **change}))
    assert not (tmp_path / "out").exists()


def _mixture_config(tmp_path, mixtures, **settings) -> DistillConfig:
    """A one-layer MiniLM student taught by all-MiniLM-L6-v2 on 64 texts a run: seconds per run."""
    return DistillConfig(
        mixtures=mixtures,
        output=tmp_path / "student",
        teacher="all-MiniLM-L6-v2",
        student_layers=(0,),
        max_texts=64,
        batch_size=32,
        max_seq_length=32,
        learning_rate=1e-3,
        cache_dir=tmp_path / "cache",
        **settings,
    )


def _keep_only_runs(out) -> None:
    """Empty a recipe's output but for its saved runs, as a rerun into it needs."""
    import shutil

    for item in out.iterdir():
        if item.name != "runs":
            shutil.rmtree(item) if item.is_dir() else item.unlink()


def test_merge_keeps_a_share_of_the_initial_student(minilm_dir, st_minilm, data_dir, tmp_path):
    """Two mixture runs and the student they started from, averaged with weights (1 - w) / 2, (1 - w) / 2, w."""
    from sentence_transformers import SentenceTransformer

    texts = data_dir / "stsb" / "sts-train.csv"
    config = _mixture_config(
        tmp_path, ({"name": "a", "train_texts": [texts]}, {"name": "b", "train_texts": [texts]}), merge_initial=0.6
    )
    out = distill(config, progress=False)
    states = [
        SentenceTransformer(str(p), device="cpu").state_dict() for p in (out, out / "runs" / "a", out / "runs" / "b")
    ]
    initial = from_teacher_layers(st_minilm, (0,)).state_dict()
    key = next(k for k in initial if k.endswith("layer.0.attention.self.query.weight"))
    merged, a, b = (state[key] for state in states)
    assert not torch.allclose(a, initial[key], atol=1e-4)  # the runs moved away from the start
    assert torch.allclose(merged, 0.2 * a + 0.2 * b + 0.6 * initial[key], atol=1e-6)

    # the saved runs are reused by the same recipe with another merge share (the runs are the slow part) ...
    import dataclasses
    import json

    _keep_only_runs(out)
    out = distill(dataclasses.replace(config, merge_initial=0.3), progress=False)
    remerged = SentenceTransformer(str(out), device="cpu").state_dict()[key]
    assert torch.allclose(remerged, 0.35 * a + 0.35 * b + 0.3 * initial[key], atol=1e-6)
    assert "run a (saved)" in json.loads((out / "distill.json").read_text())["seconds"]
    # ... and refused to a recipe that would have trained them otherwise
    _keep_only_runs(out)
    with pytest.raises(EmbedliteError, match="trained with other settings: learning_rate"):
        distill(dataclasses.replace(config, learning_rate=2e-3), progress=False)
    # ... and reused where the same files are named another way (a recipe read through `extends` names them by
    # absolute paths, the same recipe read directly relative to the working directory)
    import os
    from pathlib import Path

    relative = Path(os.path.relpath(texts))
    assert not relative.is_absolute()
    mixtures = ({"name": "a", "train_texts": [relative]}, {"name": "b", "train_texts": [relative]})
    assert distill(dataclasses.replace(config, mixtures=mixtures), progress=False) == out
    _keep_only_runs(out)
    # the runs record their settings: one added to DistillConfig since (absent from the record) is fine at its
    # default, while a recorded one must match even where only the default moved (a hash of non-defaults hid that)
    record_path = out / "runs" / "a" / "distill_run.json"
    record = json.loads(record_path.read_text())
    del record["settings"]["spread_out_weight"]
    record_path.write_text(json.dumps(record))
    assert distill(config, progress=False) == out
    _keep_only_runs(out)
    record["settings"]["temperature"] = config.temperature * 2
    record_path.write_text(json.dumps(record))
    with pytest.raises(EmbedliteError, match="temperature"):
        distill(config, progress=False)


def test_seeds_train_each_run_again_and_soup_them(minilm_dir, st_minilm, data_dir, tmp_path):
    """seeds = 2: the mixture is trained twice from other seeds (runs/a, runs/a-seed1) and the two are averaged;
    a recipe with more seeds reuses the runs it shares."""
    import dataclasses

    from sentence_transformers import SentenceTransformer

    config = _mixture_config(tmp_path, ({"name": "a", "train_texts": [data_dir / "stsb" / "sts-train.csv"]},), seeds=2)
    out = distill(config, progress=False)
    paths = (out, out / "runs" / "a", out / "runs" / "a-seed1")
    merged, first, second = (SentenceTransformer(str(p), device="cpu").state_dict() for p in paths)
    key = next(k for k in merged if k.endswith("layer.0.attention.self.query.weight"))
    assert not torch.allclose(first[key], second[key], atol=1e-4)  # another seed: another run
    assert torch.allclose(merged[key], 0.5 * first[key] + 0.5 * second[key], atol=1e-6)

    _keep_only_runs(out)
    out = distill(dataclasses.replace(config, seeds=3), progress=False)
    seconds = json.loads((out / "distill.json").read_text())["seconds"]
    assert {"run a (saved)", "run a-seed1 (saved)", "run a-seed2"} <= set(seconds)
    with pytest.raises(EmbedliteError, match="seeds is how many times"):
        DistillConfig(output=tmp_path / "x", train_texts=(data_dir / "stsb" / "sts-train.csv",), seeds=0).validate()


def test_short_distillation_raises_agreement(minilm_dir, st_minilm, data_dir, tmp_path):
    from sentence_transformers import SentenceTransformer

    from embedlite.evaluation import load_sts

    held_out = load_sts(data_dir / "stsb" / "sts-dev.csv", limit=100).sentences1
    teacher = st_minilm.encode(held_out)

    def agreement(model):
        return float(np.mean(np.sum(model.encode(held_out) * teacher, axis=1)))

    before = agreement(from_teacher_layers(st_minilm, (0, 2, 4)))
    config = DistillConfig(
        train_texts=(data_dir / "stsb" / "sts-train.csv",),
        output=tmp_path / "student",
        teacher="all-MiniLM-L6-v2",
        max_texts=600,
        batch_size=32,
        matryoshka_dims=(384, 128),
        max_seq_length=64,
        learning_rate=2e-4,
        cache_dir=tmp_path / "cache",
    )
    out = distill(config, progress=False)
    after = agreement(SentenceTransformer(str(out), device="cpu"))
    assert after > before + 0.05, (before, after)
    assert (out / "distill.json").is_file() and (tmp_path / "cache").is_dir()


def test_toml_config_paths_overrides_and_bad_keys(minilm_dir, data_dir, tmp_path):
    from embedlite.training import config_from_file

    (tmp_path / "texts.txt").write_text("one sentence\nanother one\n")
    path = tmp_path / "distill.toml"
    path.write_text(
        f'[distill]\nteacher = "{minilm_dir}"\ntrain_texts = ["texts.txt"]\noutput = "student"\n'
        "student_layers = [0, 3]\nmatryoshka_dims = [384, 128]\nepochs = 2\n"
    )
    config = config_from_file(path, {"epochs": 5})
    assert config.train_texts == (TextSource(tmp_path / "texts.txt"),) and config.output == tmp_path / "student"
    assert config.student_layers == (0, 3) and config.matryoshka_dims == (384, 128) and config.epochs == 5
    config.validate()
    path.write_text("epochs = 2\nlearnig_rate = 0.1\n")
    with pytest.raises(EmbedliteError, match="unknown setting.*learnig_rate"):
        config_from_file(path)
    path.write_text("epochs = [\n")
    with pytest.raises(EmbedliteError, match="not valid TOML"):
        config_from_file(path)


def test_two_processes_under_torchrun_follow_one(data_dir, minilm_artifact, tmp_path):
    """torchrun --nproc-per-node 2: each process embeds half of every batch, the losses see the whole batch, only
    rank 0 writes; the first step's losses equal the single-process run's (up to dropout noise)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    recipe = tmp_path / "d.toml"
    recipe.write_text(
        f'teacher = "all-MiniLM-L6-v2"\nstudent_source = "all-MiniLM-L6-v2"\nstudent_layers = [0]\n'
        f'train_texts = ["{data_dir / "stsb" / "sts-train.csv"}"]\nmax_texts = 96\nbatch_size = 32\n'
        "matryoshka_dims = [384, 128]\nmax_seq_length = 32\nseed = 3\n"
    )
    cli = str(Path(sys.executable).parent / "embedlite")
    runs = {}
    for n in (1, 2):
        out = tmp_path / f"student-{n}"
        launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}"]
        res = subprocess.run(
            [*launch, cli, "distill", "--config", str(recipe), "-o", str(out)], capture_output=True, text=True
        )
        assert res.returncode == 0, res.stderr[-2000:]
        runs[n] = json.loads((out / "distill.json").read_text())
    assert runs[2]["processes"] == 2 and runs[2]["phases"][0]["steps"] == runs[1]["phases"][0]["steps"] == 3
    one, two = runs[1]["phases"][0]["first_losses"], runs[2]["phases"][0]["first_losses"]
    assert one.keys() == two.keys()
    for key in one:
        assert two[key] == pytest.approx(one[key], rel=0.05, abs=1e-3), key


def test_teacher_cache_is_kept_per_model_and_prompt(gemma_dir, tmp_path):
    """EmbeddingGemma as the teacher reads its task prompt before each text; the cache never hands the vectors of
    one prompt (or one model) to another."""
    from embedlite import Embedder
    from embedlite.models import resolve
    from embedlite.training.teacher import teacher_embeddings

    texts = ["A man is playing a guitar.", "A woman is slicing an onion.", "A man is playing a guitar."]
    sts = teacher_embeddings(texts, gemma_dir, cache_dir=tmp_path, progress=False, task="STS")
    query = teacher_embeddings(texts, gemma_dir, cache_dir=tmp_path, progress=False, task="query")
    plain = teacher_embeddings(texts, gemma_dir, cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.iterdir())) == 3  # one cache per prompt
    expected = Embedder(resolve(gemma_dir), device="cpu").embed(texts, task="STS")
    np.testing.assert_allclose(sts, expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-6)
    assert np.abs(sts - query).max() > 1e-3 and np.abs(sts - plain).max() > 1e-3
    again = teacher_embeddings(texts[:2], gemma_dir, cache_dir=tmp_path, progress=False, task="STS")
    np.testing.assert_array_equal(again, sts[:2])  # read back from its cache
    with pytest.raises(EmbedliteError, match="teacher_task 'Typo' is not a task of .*its tasks: query, document"):
        teacher_embeddings(texts, gemma_dir, cache_dir=tmp_path, progress=False, task="Typo")


def test_translations_give_a_sentence_its_pivots_target(tmp_path):
    """Line i of a translation file is matched to line i of its pivot; a text's target moves to its pivot's
    vector by the weight (renormalised), and texts without a translation keep theirs."""
    from embedlite.training.config import Translation
    from embedlite.training.translations import pivots, toward_pivots

    (tmp_path / "de.csv").write_text("Ein Hund rennt.,Ein Hund läuft.,4.0\nEs regnet.,Ein Hund rennt.,0.5\n")
    (tmp_path / "en.csv").write_text("A dog runs.,A dog is running.,4.0\nIt rains.,A dog sprints.,0.5\n")
    pivot_of = pivots([Translation(tmp_path / "de.csv", tmp_path / "en.csv")])
    assert pivot_of == {
        "Ein Hund rennt.": "A dog runs.",
        "Ein Hund läuft.": "A dog is running.",
        "Es regnet.": "It rains.",
    }
    texts = ["Ein Hund rennt.", "Hallo."]
    own = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    theirs = {"A dog runs.": np.array([0.0, 1.0], dtype=np.float32)}
    np.testing.assert_allclose(toward_pivots(texts, own, pivot_of, theirs, 1.0), [[0, 1], [0, 1]])
    half = toward_pivots(texts, own, pivot_of, theirs, 0.5)
    np.testing.assert_allclose(half, [[2**-0.5, 2**-0.5], [0, 1]], rtol=1e-6)
    (tmp_path / "en.csv").write_text("A dog runs.,A dog is running.,4.0\n")
    with pytest.raises(EmbedliteError, match="line for line"):
        pivots([Translation(tmp_path / "de.csv", tmp_path / "en.csv")])


def test_a_translation_batch_never_holds_one_pivot_twice():
    """Two translations of one pivot in a batch would be each other's false negatives."""
    from embedlite.training.translations import translation_batch

    pivot_rows = np.array([10, 10, 10, 11, 12, 12])
    for seed in range(20):
        texts = translation_batch(pivot_rows, np.random.default_rng(seed), 8)
        assert sorted(pivot_rows[texts].tolist()) == [10, 11, 12] and len(set(texts.tolist())) == 3
    texts = translation_batch(pivot_rows, np.random.default_rng(0), 2)
    assert len(texts) == 2 and len(set(pivot_rows[texts].tolist())) == 2


def test_translation_hard_negatives_put_near_paraphrases_of_other_pivots_in_one_batch():
    """A translated text's neighbours are the teacher's nearest texts of another pivot (its own pivot's other
    translation and near-duplicates skipped); a batch follows each random text with one of them."""
    from embedlite.training.translations import translation_batch, translation_neighbours

    # texts 0 and 1 translate pivot 6 (German, Spanish); 2 paraphrases them, 3 duplicates 2; 4 and 5 are far away
    vectors = np.array([[1, 0, 0], [0.99, 0.14, 0], [0.8, 0, 0.6], [0.8, 0.001, 0.6], [0, 1, 0], [0, -1, 0]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pivot_rows = np.array([6, 6, 7, 8, 9, 10])
    found = translation_neighbours(vectors, pivot_rows, 1, duplicate_cosine=0.999)
    assert found[0, 0] == 2 and found[1, 0] in (2, 3) and found[2:4, 0].tolist() == [0, 0]
    for seed in range(10):
        batch = translation_batch(pivot_rows, np.random.default_rng(seed), 4, found).tolist()
        assert len(set(pivot_rows[batch].tolist())) == len(batch) == 4
        assert batch[1] == found[batch[0], 0], (seed, batch)  # the first random text, then its neighbour
    everyone = translation_neighbours(vectors, pivot_rows, 5, duplicate_cosine=0.999)[0].tolist()
    assert everyone[:2] == [2, 3] and sorted(everyone[2:]) == [-1, 4, 5]  # never 1: it translates 0's pivot


def test_translation_contrast_teaches_an_english_student_to_find_german_translations(minilm_dir, data_dir, tmp_path):
    """all-MiniLM-L6-v2's layers, distilled on German text alone, find a held-out German sentence's English
    translation more often with the translation contrast than without (same seed, same steps)."""
    from sentence_transformers import SentenceTransformer

    from embedlite.evaluation import load_sts

    mt = data_dir / "stsb-multi-mt"
    german = load_sts(mt / "stsb-de-dev.csv", limit=150).sentences1
    english = load_sts(mt / "stsb-en-dev.csv", limit=150).sentences1

    def found(out):
        model = SentenceTransformer(str(out), device="cpu")
        de, en = model.encode(german, normalize_embeddings=True), model.encode(english, normalize_embeddings=True)
        return float(np.mean((de @ en.T).argmax(axis=1) == np.arange(len(german))))

    def student(name, **change):
        config = DistillConfig(
            train_texts=(mt / "stsb-de-train.csv",),
            output=tmp_path / name,
            teacher="all-MiniLM-L6-v2",
            max_texts=600,
            batch_size=32,
            max_seq_length=48,
            learning_rate=2e-4,
            cache_dir=tmp_path / "cache",
            **change,
        )
        return found(distill(config, progress=False))

    without = student("without")
    pairs = ({"path": mt / "stsb-de-train.csv", "pivot": mt / "stsb-en-train.csv"},)
    with_contrast = student("with", translations=pairs, translation_weight=0, translation_contrast_weight=1.0)
    assert with_contrast > without + 0.1, (without, with_contrast)


def test_a_sources_teacher_task_holds_for_its_texts_alone(tmp_path):
    """Passages read with the document prompt, sentences with the recipe's; a text that a source without a
    teacher_task reads too keeps the recipe's prompt (one text, one target)."""
    from embedlite.training.data import teacher_tasks

    (tmp_path / "sentences.txt").write_text("a sentence\nshared\n")
    (tmp_path / "passages.txt").write_text("a long passage\nshared\n")
    sources = [
        TextSource(tmp_path / "sentences.txt"),
        TextSource.of({"path": tmp_path / "passages.txt", "teacher_task": "document"}),
    ]
    assert teacher_tasks(sources, "STS") == {"a sentence": "STS", "shared": "STS", "a long passage": "document"}
    assert teacher_tasks(sources[::-1], "STS") == {"a long passage": "document", "shared": "STS", "a sentence": "STS"}


def test_spread_takes_a_limit_across_an_ordered_file(data_dir):
    """The shared amazon train files list their negative reviews first: the first 150 reviews of books are all
    negative, 150 spread across the file hold both labels, and the same ones on every call."""
    from embedlite.training.data import load_texts

    path = data_dir / "amazon-reviews" / "books" / "train.jsonl"
    label = {(r := json.loads(line))["text"].strip(): r["label"] for line in path.read_text().splitlines() if line}
    first = load_texts([TextSource.of({"path": path, "limit": 150})])
    spread = load_texts([TextSource.of({"path": path, "limit": 150, "spread": True})])
    assert len(first) == len(spread) == 150
    assert {label[t.strip()] for t in first} == {0}
    assert 60 < sum(label[t.strip()] for t in spread) < 90
    assert spread == load_texts([TextSource.of({"path": path, "limit": 150, "spread": True})])


def test_spread_takes_pairs_across_an_ordered_file(data_dir):
    """STS-B train lists its 2,000 caption pairs first: 150 pairs spread across it reach the forum and news pairs,
    each pair whole."""
    from embedlite.evaluation import load_sts
    from embedlite.training.distill import _load_pairs

    path = data_dir / "stsb" / "sts-train.csv"
    genre = {(c := line.split("\t"))[5]: c[0] for line in path.read_text().splitlines()}
    data = load_sts(path)
    pairs = set(zip(data.sentences1, data.sentences2))
    first, _ = _load_pairs((TextSource.of({"path": path, "limit": 150}),))
    spread, second = _load_pairs((TextSource.of({"path": path, "limit": 150, "spread": True}),))
    assert len(first) == len(spread) == len(second) == 150
    assert {genre[t] for t in first} == {"main-captions"}
    assert {genre[t] for t in spread} == {"main-captions", "main-forum", "main-news"}
    assert set(zip(spread, second)) <= pairs
