"""The distillation pipeline: a run per data mixture from the same student, the runs merged, then a
quantization-aware phase; every step matches the teacher's embeddings and geometry at every Matryoshka dim."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

from embedlite.errors import EmbedliteError

from .config import DistillConfig, Mixture, is_model_name
from .data import TextSource
from .parallel import Workers


def build_student(config: DistillConfig):
    """The sentence-transformers model the recipe starts from: layers of a stronger model, a small random BERT, or
    a causal Gemma 3 LM turned encoder (config.student)."""
    from sentence_transformers import SentenceTransformer

    from . import student

    if config.student == "layers":
        source = config.student_source or config.teacher
        if source is None:
            raise EmbedliteError("student 'layers' copies layers of student_source or the teacher: give one")
        model = student.from_teacher_layers(
            SentenceTransformer(str(_model_dir(source)), device="cpu"), config.student_layers
        )
        if config.student_vocabulary:
            from .data import load_texts
            from .vocabulary import prune_student_vocabulary

            prune_student_vocabulary(model, load_texts(config.student_vocabulary))
        return model
    work = Path(config.output).parent / f".{Path(config.output).name}-init"
    if config.student == "random":
        tokenizer_source = config.teacher or config.student_source
        if tokenizer_source is None:
            raise EmbedliteError("a random student takes its tokenizer from the teacher or student_source")
        path = student.random_bert(
            _model_dir(tokenizer_source), work, seed=config.seed, max_seq_length=config.max_seq_length
        )
    else:
        path = student.decoder_to_encoder(Path(config.student_source or ""), work, config.max_seq_length)
    model = SentenceTransformer(str(path), device="cpu")
    shutil.rmtree(path)  # loaded into memory; the trained student is saved at config.output
    return model


def fixed_output_steps(model, config: DistillConfig):
    """`model` (changed in place) after the recipe's steps between the merge and the axes: its languages made
    neutral, then its output centred (where the recipe asks); bench_merge scores merges through this too."""
    from .data import load_texts
    from .student import centre_output, neutralise_languages

    if config.language_neutral:
        model = neutralise_languages(model, config.language_neutral)
    if config.centre:
        model = centre_output(model, load_texts(config.centre))
    return model


def _model_dir(model: Path | str) -> Path:
    """A sentence-transformers directory for a path, a known source name or a shipped model's name (rebuilt from its
    dequantized weights)."""
    from embedlite.converters.source import known_source

    return known_source(str(model)) if is_model_name(model) else Path(model)


def distill(config: DistillConfig, progress: bool = True) -> Path:
    """Train a student per `config` and save it (a sentence-transformers directory) at config.output."""
    config.validate()
    output = Path(config.output)
    if output.exists() and any(p.name != "runs" for p in output.iterdir()):
        raise EmbedliteError(f"{output} exists and is not empty; choose a new output directory")
    settings = _run_settings(config)

    from .data import load_texts
    from .merge import merge_with_initial
    from .parallel import from_environment

    workers = from_environment()  # under torchrun: data parallel; only rank 0 writes
    progress = progress and workers.main
    started = time.perf_counter()
    runs = config.runs()
    run_texts = [load_texts(m.train_texts, config.max_texts) for m in runs]
    first, second = _load_pairs(config.train_pairs)
    texts = list(dict.fromkeys([*(t for group in run_texts for t in group), *first, *second]))
    for turn in ("main", "others"):  # rank 0 fetches sources and computes (caches) the teacher's embeddings first
        if workers.main == (turn == "main"):
            if config.student == "layers":
                _model_dir(config.student_source or config.teacher or "")
            targets = _teacher_targets(texts, runs, config, progress)
            if config.translations and config.translation_weight:
                targets = _toward_translations(texts, targets, config, progress)
        workers.barrier()
    row = {t: i for i, t in enumerate(texts)}
    pairs = _Pairs.of(first, second, targets, row) if first else None
    neighbours = _neighbours(targets, config)
    pivot_of = _pivots_to_contrast(config)
    timings = {"teacher": round(time.perf_counter() - started, 1)}
    phases, models = [], []
    seeded = seeded_runs(config)
    for name, number, seed in seeded:
        group = run_texts[number]
        start = time.perf_counter()
        saved = output / "runs" / name
        reused = _saved_run(saved, config)
        if reused is not None:  # trained by an earlier call of this recipe (killed later, or re-merged)
            model, record = reused
            phases.append(record["phase"])
            timings[f"run {name} (saved)"] = record["seconds"]
            models.append(model)
            continue
        model = build_student(config)
        rows = np.array([row[t] for t in group])
        phases.append(
            _train(
                model,
                [texts[i] for i in rows],
                targets[rows],
                _subset(neighbours, rows),
                pairs,
                _Translated.of(group, pivot_of, targets[rows], config),
                config,
                workers,
                epochs=config.epochs,
                learning_rate=config.learning_rate,
                seed=seed,
                qat_bits=(),
                progress=progress,
                name=name,
            )
        )
        timings[f"run {name}"] = round(time.perf_counter() - start, 1)
        if len(seeded) > 1 and workers.main:
            model.save(str(saved))
            (saved / RUN_RECORD).write_text(
                json.dumps(
                    {
                        "settings": settings,
                        "fingerprint": _runs_fingerprint(config),
                        "phase": phases[-1],
                        "seconds": timings[f"run {name}"],
                    }
                )
            )
        workers.barrier()
        models.append(model)
    initial = build_student(config) if config.merge_initial else None
    model = merge_with_initial(models, [name for name, _, _ in seeded], initial, config.merge_initial)
    if config.language_neutral or config.centre:
        start = time.perf_counter()
        model = fixed_output_steps(model, config)
        timings["fixed output steps"] = round(time.perf_counter() - start, 1)
    if config.matryoshka_axes:
        from .student import matryoshka_axes, rotate_output

        start = time.perf_counter()
        texts_for_axes = load_texts(config.matryoshka_axes, None)
        model = rotate_output(
            model,
            matryoshka_axes(
                model, texts_for_axes, config.matryoshka_dims, steps=config.matryoshka_axes_steps, progress=progress
            ),
        )
        timings["matryoshka axes"] = round(time.perf_counter() - start, 1)
    if config.qat_bits:
        start = time.perf_counter()
        phases.append(
            _train(
                model,
                texts,
                targets,
                neighbours,
                pairs,
                _Translated.of(texts, pivot_of, targets, config),
                config,
                workers,
                epochs=config.qat_epochs,
                learning_rate=config.qat_learning_rate or config.learning_rate / 10,
                seed=config.seed + len(runs),
                qat_bits=config.qat_bits,
                progress=progress,
                name="qat",
            )
        )
        timings["qat"] = round(time.perf_counter() - start, 1)
    model.eval()
    timings["total"] = round(time.perf_counter() - started, 1)
    if workers.main:
        from embedlite.artifact import NOTICE
        from embedlite.models.catalog import derived_terms

        model.save(str(output))
        licence, notice = derived_terms(config.teacher, config.student_source)
        if notice:  # an export of the student carries it (converters/export.py)
            (output / NOTICE).write_text(notice, encoding="utf-8")
        record = json.loads(json.dumps(dataclasses.asdict(config), default=str))
        (output / "distill.json").write_text(
            json.dumps(
                {
                    "config": record,
                    "texts": len(texts),
                    "processes": workers.size,
                    "phases": phases,
                    "seconds": timings,
                    "license": licence,
                },
                indent=2,
            )
            + "\n"
        )
    workers.barrier()  # the others return once the student is on disk
    return output


def seeded_runs(config: DistillConfig) -> list[tuple[str, int, int]]:
    """(name, mixture index, seed) of every run a recipe trains and merges: each mixture once per seed, the k-th
    time (k >= 1) named <mixture>-seed<k>; a run's folder under runs/ is its name."""
    runs = config.runs()
    return [
        (mixture.name if k == 0 else f"{mixture.name}-seed{k}", number, config.seed + number + 1000 * k)
        for k in range(config.seeds)
        for number, mixture in enumerate(runs)
    ]


def _teacher_targets(texts: list[str], runs: tuple[Mixture, ...], config: DistillConfig, progress: bool) -> np.ndarray:
    """The teacher's vectors of `texts`, each read with its source's teacher_task (data.teacher_tasks)."""
    from .data import teacher_tasks
    from .teacher import teacher_embeddings

    sources = [s for m in runs for s in m.train_texts]
    task_of = teacher_tasks(sources, config.teacher_task) if any(s.teacher_task for s in sources) else {}
    tasks = [task_of.get(t, config.teacher_task) for t in texts]
    targets = None
    for task in dict.fromkeys(tasks):
        rows = [i for i, t in enumerate(tasks) if t == task]
        vectors = teacher_embeddings(
            [texts[i] for i in rows], config.teacher, config.teacher_embeddings, config.cache_dir, progress, task=task
        )
        if targets is None:
            targets = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        targets[rows] = vectors
    assert targets is not None
    return targets


def _toward_translations(texts: list[str], targets: np.ndarray, config: DistillConfig, progress: bool) -> np.ndarray:
    """The targets of texts with a pivot translation moved towards the teacher's vector of it (translations.py)."""
    from .teacher import teacher_embeddings
    from .translations import pivots, toward_pivots

    pivot_of = pivots(config.translations)
    wanted = list(dict.fromkeys(pivot_of[t] for t in texts if t in pivot_of))
    if not wanted:
        return targets
    vectors = teacher_embeddings(wanted, config.teacher, None, config.cache_dir, progress, task=config.teacher_task)
    return toward_pivots(texts, targets, pivot_of, dict(zip(wanted, vectors, strict=True)), config.translation_weight)


RUN_RECORD = "distill_run.json"  # beside each saved run: which settings trained it
# settings read only after the per-mixture runs: a recipe that changes them reuses the saved runs
AFTER_RUNS = (
    "output",
    "cache_dir",
    "merge_initial",
    "seeds",  # a run's training does not depend on how many seeds there are: its own is in its folder's name
    "matryoshka_axes",
    "matryoshka_axes_steps",
    "language_neutral",
    "centre",
    "qat_bits",
    "qat_epochs",
    "qat_learning_rate",
    "qat_block",
)


def _run_settings(config: DistillConfig) -> dict:
    """The settings that train the runs, as JSON values (saved beside each run)."""
    record = {k: _without_added_defaults(v) for k, v in dataclasses.asdict(config).items() if k not in AFTER_RUNS}
    return json.loads(json.dumps(record, sort_keys=True, default=str))


# text source keys added since runs were first saved, at the value that reads a file as before: left out of the
# record, so a run saved earlier still matches its recipe (small v7's, saved 2026-12-06, had no `spread`)
_ADDED_SOURCE_KEYS = {"spread": False}


def _without_added_defaults(value):
    if isinstance(value, dict):
        return {
            k: _without_added_defaults(v)
            for k, v in value.items()
            if not (k in _ADDED_SOURCE_KEYS and v == _ADDED_SOURCE_KEYS[k] and "path" in value)
        }
    if isinstance(value, (list, tuple)):
        return [_without_added_defaults(v) for v in value]
    return value


def _runs_fingerprint(config: DistillConfig) -> str:
    """A hash of the settings that train the runs, those at their defaults left out: how runs saved before
    2026-12-04 (which carry no settings) are recognised."""
    import hashlib

    defaults = _run_settings(DistillConfig(output=config.output))  # output: the one setting without a default
    record = {k: v for k, v in _run_settings(config).items() if v != defaults[k]}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _settings_differ(saved: dict, config: DistillConfig) -> list[str]:
    """The settings in which a saved run differs from `config`. A setting the run does not record (added to
    DistillConfig since) must be at its default; one it records must be equal, even if only its default changed."""
    current = _run_settings(config)
    defaults = _run_settings(DistillConfig(output=config.output))
    differ = []
    for key, value in current.items():
        before = saved.get(key, defaults[key])
        if _same_files(before) != _same_files(value):
            differ.append(f"{key} (saved {before!r}, now {value!r})")
    return differ


def _same_files(value):
    """`value` with every path of an existing file resolved: a recipe read through `extends` names its files by
    absolute paths, the same recipe read directly by paths relative to the working directory (multilingual v3's
    runs, saved by its own recipe, are v5's)."""
    if isinstance(value, dict):
        return {k: _same_files(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_same_files(v) for v in value]
    if isinstance(value, str) and "/" in value and Path(value).exists():
        return str(Path(value).resolve())
    return value


def _saved_run(folder: Path, config: DistillConfig):
    """(model, record) of a run saved by this recipe's settings, else None; a run of other settings is refused."""
    if not (folder / RUN_RECORD).is_file():
        return None
    record = json.loads((folder / RUN_RECORD).read_text())
    if "settings" in record:
        differ = _settings_differ(record["settings"], config)
    else:
        differ = [] if record.get("fingerprint") == _runs_fingerprint(config) else ["(an older run: no settings saved)"]
    if differ:
        raise EmbedliteError(
            f"{folder} holds a run trained with other settings: {'; '.join(differ[:5])}; "
            "choose a new output directory or delete it"
        )
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu"), record


def _load_pairs(sources: tuple[TextSource, ...]) -> tuple[list[str], list[str]]:
    from embedlite.evaluation import load_sts

    first: list[str] = []
    second: list[str] = []
    for source in sources:
        data = load_sts(source.path)
        rows = source.pick(list(zip(data.sentences1, data.sentences2)))  # the limit, as a text file takes it
        first += [a for a, _ in rows]
        second += [b for _, b in rows]
    return first, second


@dataclasses.dataclass(frozen=True)
class _Pairs:
    """Sentence pairs and the teacher's cosine of each: texts holds every first sentence, then every second."""

    texts: list[str]
    teacher: np.ndarray

    @classmethod
    def of(cls, first: list[str], second: list[str], targets: np.ndarray, row: dict[str, int]) -> _Pairs:
        a, b = targets[[row[t] for t in first]], targets[[row[t] for t in second]]
        return cls([*first, *second], (a * b).sum(axis=1))  # targets are unit vectors

    def batch(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Rows into texts: `size` random pairs' first sentences, then their second ones."""
        n = len(self.teacher)
        pick = rng.choice(n, min(size, n), replace=False)
        return np.concatenate([pick, pick + n])


def _neighbours(targets: np.ndarray, config: DistillConfig) -> np.ndarray | None:
    if not config.hard_negatives:
        return None
    from .mining import mine_neighbours

    return mine_neighbours(targets, config.hard_negatives, config.duplicate_cosine)


def _subset(neighbours: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    """Neighbour lists restricted to `rows`, renumbered to positions in rows (-1 where outside)."""
    if neighbours is None:
        return None
    position = np.full(len(neighbours), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    picked = neighbours[rows]
    return np.where(picked >= 0, position[np.maximum(picked, 0)], -1)


class _Targets:
    """What the student's embeddings are compared with. 'learned': the teacher's vectors, reached through a linear
    map trained alongside (dropped afterwards). 'pca': the teacher's vectors projected on their top principal
    directions (no centring: dot products are what is kept), so every prefix has its own target."""

    def __init__(self, targets: np.ndarray, student_dim: int, projection: str):
        import torch

        self.teacher = torch.from_numpy(targets)
        self.map: torch.nn.Module = torch.nn.Identity()
        self.reduced = None
        if projection == "pca":
            if student_dim > targets.shape[1]:
                raise EmbedliteError(
                    f"projection 'pca' needs a student dim ({student_dim}) at most the teacher's ({targets.shape[1]})"
                )
            _, _, vt = np.linalg.svd(targets[:50_000].astype(np.float64), full_matrices=False)
            self.reduced = torch.from_numpy((targets @ vt[:student_dim].T).astype(np.float32))
        elif student_dim != targets.shape[1]:
            self.map = torch.nn.Linear(student_dim, targets.shape[1], bias=False)


def _train(
    model,
    texts: list[str],
    targets: np.ndarray,
    neighbours: np.ndarray | None,
    pairs: _Pairs | None,
    translated: _Translated | None,
    config: DistillConfig,
    workers: Workers,
    *,
    epochs: float,
    learning_rate: float,
    seed: int,
    qat_bits: tuple[int, ...],
    progress: bool,
    name: str,
) -> dict:
    import torch
    from tqdm.auto import tqdm

    from . import losses, qat
    from .mining import batches

    torch.manual_seed(seed)
    saved_length = model.max_seq_length
    model.max_seq_length = config.max_seq_length
    student_dim = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()
    dims = config.matryoshka_dims or (student_dim,)
    if dims[0] > student_dim:
        raise EmbedliteError(f"matryoshka_dims start at {dims[0]}, above the student's dim {student_dim}")
    space = _Targets(targets, student_dim, config.projection)
    params = [*model.parameters(), *space.map.parameters()]
    optimizer = torch.optim.AdamW(params, lr=learning_rate)
    total = max(1, math.ceil(epochs * math.ceil(len(texts) / config.batch_size)))
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    rng = np.random.default_rng(seed)
    pair_rng = np.random.default_rng(seed + 1)  # apart from rng: pairs leave the text batches as they were
    translation_rng = np.random.default_rng(seed + 2)
    history: list[dict] = []
    geometry = _geometry_loss(config)
    model.train()
    bar = tqdm(total=total, desc=f"distilling ({name})", unit="step", disable=None if progress else True)
    while len(history) < total:
        for idx in batches(len(texts), config.batch_size, rng, neighbours):
            if len(history) == total:
                break
            if len(idx) < max(2, workers.size):
                continue
            if qat_bits:
                qat.enable(model, qat_bits[len(history) % len(qat_bits)], config.qat_block)
            embeddings, idx = _embed(model, texts, idx, config.prompt, workers)
            teacher = space.teacher[idx]
            if space.reduced is None:
                full = space.map(embeddings)
                parts = {
                    "match": config.match_weight * losses.embedding_matching(full, teacher),
                    "nce": config.nce_weight
                    * losses.info_nce(full, teacher, config.temperature, config.same_tower_negatives),
                }
            else:
                reduced = space.reduced[idx]
                parts = {
                    f"match@{d}": config.match_weight
                    / len(dims)
                    * losses.embedding_matching(embeddings[:, :d], reduced[:, :d])
                    for d in dims
                }
                parts["nce"] = config.nce_weight * losses.info_nce(
                    embeddings, reduced, config.temperature, config.same_tower_negatives
                )
            for d in dims:  # Matryoshka: every prefix must keep the teacher's geometry on its own
                parts[f"geo@{d}"] = config.geometry_weight * geometry(embeddings[:, :d], teacher)
                parts[f"spread@{d}"] = config.spread_out_weight * losses.spread_out(embeddings[:, :d])
            if pairs is not None:
                parts.update(
                    _pair_losses(model, pairs, pairs.batch(pair_rng, config.pair_batch_size), dims, config, workers)
                )
            if translated is not None:
                parts.update(_translation_losses(model, translated, translation_rng, dims, config, workers))
            loss = sum(parts.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            workers.sum_gradients(list(model.parameters()))  # the map sits after the gather: already whole
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            history.append({k: float(v.detach()) for k, v in parts.items()})
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
    bar.close()
    if qat_bits:
        qat.disable(model, bake=len(qat_bits) == 1)
    model.max_seq_length = saved_length
    tail = history[-max(1, total // 20) :]
    return {
        "name": name,
        "texts": len(texts),
        "steps": total,
        "qat_bits": list(qat_bits),
        "first_losses": {k: round(v, 5) for k, v in history[0].items()},
        "last_losses": {k: round(float(np.mean([h[k] for h in tail])), 5) for k in tail[0]},
        "loss_curve": [round(sum(h.values()), 5) for h in history],
    }


def _geometry_loss(config: DistillConfig):
    """The loss config.geometry names: (student, teacher) -> loss."""
    from . import losses

    if config.geometry == "neighbours":
        return functools.partial(losses.neighbour_distribution, temperature=config.geometry_temperature)
    return losses.similarity_correlation if config.geometry == "correlation" else losses.similarity_matching


def _pair_losses(
    model, pairs: _Pairs, rows: np.ndarray, dims: tuple[int, ...], config: DistillConfig, workers: Workers
) -> dict:
    """The ranking loss over a batch of pairs at every Matryoshka dim; rows as _Pairs.batch gives them."""
    import torch

    from . import losses

    embeddings = _embed_rows(model, pairs.texts, rows, config.prompt, workers)
    half = len(rows) // 2
    first, second = embeddings[:half], embeddings[half:]
    teacher = torch.from_numpy(pairs.teacher[rows[:half]])
    return {
        f"pairs@{d}": config.pair_weight / len(dims) * losses.pair_ranking(first[:, :d], second[:, :d], teacher)
        for d in dims
    }


def _pivots_to_contrast(config: DistillConfig) -> dict[str, str]:
    """Each translated text -> its pivot, when the recipe contrasts translations (else empty)."""
    if not config.translation_contrast_weight:
        return {}
    from .translations import pivots

    return pivots(config.translations)


@dataclasses.dataclass(frozen=True)
class _Translated:
    """A run's translated texts and their pivots as rows of one list: the texts, then their distinct pivots; and,
    with translation_hard_negatives, each translated text's mined neighbours (rows of other translated texts)."""

    texts: list[str]
    pivot_rows: np.ndarray  # translated text i's pivot is texts[pivot_rows[i]]
    neighbours: np.ndarray | None = None

    @classmethod
    def of(
        cls, group: list[str], pivot_of: dict[str, str], targets: np.ndarray, config: DistillConfig
    ) -> _Translated | None:
        """`targets`: the teacher's vectors of `group`, row for row."""
        first: dict[str, int] = {}
        for i, t in enumerate(group):
            first.setdefault(t, i)
        own = [t for t in first if pivot_of.get(t, t) != t]
        if len(own) < 2:
            return None
        distinct = list(dict.fromkeys(pivot_of[t] for t in own))
        at = {p: len(own) + i for i, p in enumerate(distinct)}
        pivot_rows = np.array([at[pivot_of[t]] for t in own])
        neighbours = None
        if config.translation_hard_negatives:
            from .translations import translation_neighbours

            own_targets = targets[[first[t] for t in own]]
            neighbours = translation_neighbours(
                own_targets, pivot_rows, config.translation_hard_negatives, config.duplicate_cosine
            )
        return cls([*own, *distinct], pivot_rows, neighbours)


def _translation_losses(
    model, translated: _Translated, rng: np.random.Generator, dims: tuple[int, ...], config: DistillConfig, workers
) -> dict:
    """Each of a batch of translated texts must pick its own pivot among the batch's, and each pivot its own text
    (symmetric InfoNCE, no teacher), at every Matryoshka dim."""
    from . import losses
    from .translations import translation_batch

    texts = translation_batch(translated.pivot_rows, rng, config.translation_batch_size, translated.neighbours)
    rows = np.concatenate([texts, translated.pivot_rows[texts]])
    embeddings = _embed_rows(model, translated.texts, rows, config.prompt, workers)
    a, b = embeddings[: len(texts)], embeddings[len(texts) :]
    t, m = config.temperature, config.translation_margin
    return {
        f"translation@{d}": config.translation_contrast_weight
        / len(dims)
        / 2
        * (losses.info_nce(a[:, :d], b[:, :d], t, margin=m) + losses.info_nce(b[:, :d], a[:, :d], t, margin=m))
        for d in dims
    }


def _embed_rows(model, texts: list[str], rows: np.ndarray, prompt: str, workers: Workers):
    """The embeddings of texts[rows], in the order of `rows` (distinct rows), whatever the number of processes."""
    embeddings, order = _embed(model, texts, rows, prompt, workers)
    position = {r: i for i, r in enumerate(order.tolist())}
    return embeddings[[position[r] for r in rows.tolist()]]


def _embed(model, texts: list[str], idx: np.ndarray, prompt: str, workers: Workers):
    """The embeddings of a global batch (this process embeds its share, the others' are gathered) and the rows of
    `texts` they belong to, in order, whatever the number of processes."""
    # sentence-transformers 6 renamed tokenize to preprocess (tokenize logs a deprecation on every run); 5 has only it
    preprocess = getattr(model, "preprocess", None) or model.tokenize
    features = preprocess([prompt + texts[i] for i in workers.share(idx)])
    return workers.gather(model(features)["sentence_embedding"], len(idx)), workers.gathered_order(idx)
