"""Distillation settings, checked before any training starts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedlite.errors import EmbedliteError
from embedlite.models import SHIPPED
from embedlite.models.sources import SOURCES

from .data import TextSource

STUDENT_INITS = ("layers", "random", "decoder")
PROJECTIONS = ("learned", "pca")
GEOMETRIES = ("cosines", "correlation", "neighbours")
QAT_BITS = (8, 4)
# the settings that list text files (TextSources), each as a path, a {path, limit, ...} table or a list of them
TEXT_SOURCE_FIELDS = (
    "train_texts",
    "train_pairs",
    "matryoshka_axes",
    "language_neutral",
    "centre",
    "student_vocabulary",
)


def is_model_name(p: Path | str) -> bool:
    """A source model's or shipped model's name (converters.source.known_source builds either), not a path."""
    return str(p) in SOURCES or str(p) in SHIPPED


@dataclass(frozen=True)
class Mixture:
    """One training run's data: runs on different mixtures start from the same student and are merged."""

    name: str
    train_texts: tuple[TextSource, ...]


@dataclass(frozen=True)
class Translation:
    """A sentence-pair file whose line i translates line i of `pivot` (a pair file in the pivot language)."""

    path: Path
    pivot: Path

    @classmethod
    def of(cls, value: Translation | dict) -> Translation:
        if isinstance(value, Translation):
            return value
        if not isinstance(value, dict) or set(value) != {"path", "pivot"}:
            raise EmbedliteError(f"a translation is {{path, pivot}}; got {value!r}")
        return cls(Path(value["path"]), Path(value["pivot"]))


@dataclass(frozen=True)
class DistillConfig:
    """How to distil a student from a teacher.

    teacher: a sentence-transformers directory, a known source name (embedlite.models.sources, e.g.
    'all-mpnet-base-v2') or a shipped model's name (a student teaching a smaller one); its embeddings are computed
    once by its artifact (a source's exported ONNX) and cached. Or
    teacher_embeddings: a .npy, one row per training text, from any model or API.
    teacher_task: a task of the teacher's manifest whose prompt the teacher reads before every text (EmbeddingGemma:
    "STS", its sentence-similarity prompt); the cache is kept per model and prompt. A train_texts source may name
    its own ({path, teacher_task = "document"}: passages read as documents), for texts no other source reads.
    student: 'layers' starts from `student_source` (a directory or known name; default: the teacher) keeping
    `student_layers` (empty: all), with its SentencePiece vocabulary pruned to the pieces `student_vocabulary`'s
    texts use (training/vocabulary.py; none given: all kept); 'random' builds a small BERT ('tiny'); 'decoder'
    turns the causal Gemma 3 LM at `student_source` into a bidirectional encoder.
    train_texts: one run over these texts; or mixtures: one run per mixture, then the runs are averaged.
    seeds: each run is trained this many times, the k-th time from seed + 1000k (saved as runs/<name>-seed<k>),
    and every one enters the average with an equal share (a seed soup; EmbeddingGemma souped its runs).
    merge_initial: the initial student's share in that average (weight-space ensembling, as WiSE-FT does: the
    student keeps more of what it knew and the training data does not show); the runs share the rest.
    projection: how a student narrower than the teacher is matched: a 'learned' linear map, or 'pca' (the
    teacher's embeddings projected on their top principal directions: the first student dims match the
    teacher's strongest ones, as Matryoshka truncation wants).
    hard_negatives: each text's nearest other texts by the teacher (near-duplicates skipped) are mined; every
    batch pairs its texts with one of their neighbours, so the contrastive and geometry losses see close pairs.
    geometry_weight, match_weight, nce_weight, spread_out_weight: the weights of geometry matching, embedding
    matching, the contrastive loss and the spread-out regulariser; same_tower_negatives adds the other students'
    embeddings to the contrastive loss's negatives. geometry: 'cosines' matches the teacher's pairwise cosines
    as they are (MSE); 'correlation' up to an affine map (1 - Pearson r), for a teacher whose cosines sit in a
    shifted band the spread-out regulariser would fight (EmbeddingGemma's); 'neighbours' matches each text's
    distribution over the batch's other texts (softmax of z-scored cosines at geometry_temperature, KL), so a
    text's nearest texts count and the many unrelated pairs barely do.
    qat_bits: after training (and merging), `qat_epochs` more epochs with weights fake-quantized to these
    bit widths in turn (blocks of `qat_block` along the input, as the int8/int4 exports quantize).
    train_pairs: sentence-pair files (STS Benchmark TSV, {path, limit, spread}; their gold scores are never read: ranked
    by them instead, all-MiniLM-L6-v2 lost 1.3 points of STS-B dev here, by the teacher it gained): every step embeds
    `pair_batch_size` pairs and ranks them as the teacher's cosines rank them (pair_weight), across the whole range
    from unrelated to paraphrase, which random batches and mined neighbours rarely show.
    matryoshka_axes: text files (as train_texts); after training and merging (before QAT), the student's output is
    turned by a fixed linear layer it keeps onto axes in which each Matryoshka prefix keeps the cosines between
    each of these texts and its nearest neighbours (the principal axes, strongest first, then turned to fit those
    cosines, `matryoshka_axes_steps` Adam steps of 4096 pairs): full-dim cosines are unchanged, and each prefix
    holds what the neighbours' cosines need instead of arbitrary coordinates.
    language_neutral: text files, one per language; after merging (before the axes), the directions in which
    these languages' mean embeddings differ are projected out of the student's output by a fixed linear layer
    before its normalisation (language-agnostic LIR, Yang et al. 2021): what a vector says about its language
    alone, which a translation does not share and cross-lingual retrieval pays for.
    centre: text files; after merging (and language_neutral, before the axes), the mean of the student's output
    over these texts is taken off every embedding before its normalisation (a fixed bias): the direction all texts
    share, which raises every cosine alike and blurs their order (as all-but-the-top, Mu & Viswanath 2018, removes
    the mean). The texts must stand for what the model will embed: a `limit` keeps a file's first texts, and
    STS-B train is ordered by genre (its first 4,000 are image captions: small v3 merged, STS-B dev 0.8784 as it
    is, 0.8739 centred on those, 0.8841 on all its sentences).
    translations: parallel pair files ({path, pivot}, STS Benchmark layout, line for line): a training text found
    in `path` is matched to the teacher's vector of its pivot translation, blended with its own by
    translation_weight (1: the pivot's alone, as Reimers & Gurevych 2020 make monolingual models multilingual),
    so a sentence and its translation get one target and the pivot language's geometry (0: targets unchanged).
    translation_contrast_weight: every step also embeds `translation_batch_size` of the run's translated texts and
    their pivots (distinct pivots) and each must pick its own translation among the batch's (symmetric InfoNCE at
    every Matryoshka dim, as LaBSE aligns bitext): the student's own two towers are pulled together, which the
    teacher targets reach only through the student's error on each. translation_hard_negatives: each translated
    text's nearest other translated texts by the teacher (another pivot; near-duplicates above duplicate_cosine
    skipped) are mined, and each translation batch is half random texts, each followed by one of its neighbours:
    the translations of near-paraphrases, which cross-lingual retrieval confuses and random batches rarely hold.
    translation_margin: an additive margin on the cosine of each text and its own translation in that contrast
    (LaBSE's additive margin softmax, Feng et al. 2022): the loss keeps pulling until the translation is ahead of
    every other text of the batch by the margin, not merely ahead."""

    output: Path
    train_texts: tuple[TextSource, ...] = ()
    mixtures: tuple[Mixture, ...] = ()
    merge_initial: float = 0.0
    seeds: int = 1
    teacher: Path | str | None = None
    teacher_embeddings: Path | None = None
    teacher_task: str | None = None  # the teacher's task prompt for every text (EmbeddingGemma: "STS")
    student: str = "layers"
    student_source: Path | str | None = None
    student_layers: tuple[int, ...] = (0, 2, 4)
    student_vocabulary: tuple[TextSource, ...] = ()
    student_size: str = "tiny"
    matryoshka_dims: tuple[int, ...] = ()
    max_texts: int | None = None
    max_seq_length: int = 128
    epochs: int = 1
    batch_size: int = 64
    learning_rate: float = 1e-4
    temperature: float = 0.05
    geometry_weight: float = 1.0
    geometry: str = "cosines"
    geometry_temperature: float = 0.5  # 'neighbours': softmax temperature in standard deviations of the cosines
    match_weight: float = 1.0
    nce_weight: float = 1.0
    same_tower_negatives: bool = True
    spread_out_weight: float = 1.0
    projection: str = "learned"
    hard_negatives: int = 0
    duplicate_cosine: float = 0.95  # mined neighbours the teacher finds closer than this are near-duplicates
    qat_bits: tuple[int, ...] = ()
    qat_epochs: float = 0.2
    qat_learning_rate: float | None = None  # default: a tenth of learning_rate
    qat_block: int = 32
    train_pairs: tuple[TextSource, ...] = ()
    pair_weight: float = 1.0
    pair_batch_size: int = 32
    matryoshka_axes: tuple[TextSource, ...] = ()
    matryoshka_axes_steps: int = 1000
    language_neutral: tuple[TextSource, ...] = ()
    centre: tuple[TextSource, ...] = ()
    translations: tuple[Translation, ...] = ()
    translation_weight: float = 1.0
    translation_contrast_weight: float = 0.0
    translation_batch_size: int = 32
    translation_hard_negatives: int = 0
    translation_margin: float = 0.0
    prompt: str = ""  # task prompt prepended to every training text, as the manifest will declare it
    seed: int = 0
    cache_dir: Path | None = None

    def __post_init__(self) -> None:  # accept paths, TOML tables and a single int where tuples are meant
        for name in TEXT_SOURCE_FIELDS:
            object.__setattr__(self, name, tuple(TextSource.of(t) for t in getattr(self, name)))
        object.__setattr__(self, "translations", tuple(Translation.of(t) for t in self.translations))
        object.__setattr__(self, "mixtures", tuple(m if isinstance(m, Mixture) else _mixture(m) for m in self.mixtures))
        bits = self.qat_bits
        object.__setattr__(self, "qat_bits", () if bits is None else (bits,) if isinstance(bits, int) else tuple(bits))

    def runs(self) -> tuple[Mixture, ...]:
        """The training runs: one per mixture, or one over train_texts."""
        return self.mixtures or (Mixture("all", self.train_texts),)

    def validate(self) -> None:  # noqa: C901 (a flat list of independent checks, one per setting)
        """Refuse a recipe whose settings cannot run together, naming the setting."""
        if not isinstance(self.seeds, int) or isinstance(self.seeds, bool) or self.seeds < 1:
            raise EmbedliteError(f"seeds is how many times each run is trained: 1 or more; got {self.seeds!r}")
        if self.student not in STUDENT_INITS:
            raise EmbedliteError(f"unknown student init {self.student!r}; choose from {', '.join(STUDENT_INITS)}")
        if self.student == "random" and self.student_size not in ("tiny",):
            raise EmbedliteError(f"unknown student size {self.student_size!r} for a random BERT student; use 'tiny'")
        if self.student == "decoder" and (self.student_source is None or not Path(self.student_source).is_dir()):
            raise EmbedliteError(
                f"student 'decoder' needs student_source, a Gemma 3 LM directory; got {self.student_source}"
            )
        if (self.teacher is None) == (self.teacher_embeddings is None):
            raise EmbedliteError("give exactly one of teacher (a model directory or name) or teacher_embeddings (.npy)")
        if bool(self.train_texts) == bool(self.mixtures):
            raise EmbedliteError("give train_texts (one run) or mixtures (one run each, then merged), not both")
        if len({m.name for m in self.runs()}) != len(self.runs()) or any(not m.train_texts for m in self.runs()):
            raise EmbedliteError("each mixture needs a distinct name and some train_texts")
        if not 0 <= self.merge_initial < 1:
            raise EmbedliteError(
                f"merge_initial is the initial student's share in the merge: 0 or more, below 1; "
                f"got {self.merge_initial}"
            )
        if self.merge_initial and self.student == "random":
            raise EmbedliteError(
                "merge_initial averages the trained student with the one it started from; "
                "a random student has nothing to keep"
            )
        text_sources = [s for m in self.runs() for s in m.train_texts]
        if (self.teacher_task is not None or any(s.teacher_task for s in text_sources)) and self.teacher is None:
            raise EmbedliteError("teacher_task names a prompt of the teacher: give a teacher")
        if self.mixtures and self.teacher_embeddings is not None:
            raise EmbedliteError("teacher_embeddings (one row per text) needs a single run over train_texts")
        if self.train_pairs and self.teacher_embeddings is not None:
            raise EmbedliteError(
                "train_pairs are scored by the teacher's embeddings: give a teacher, not teacher_embeddings"
            )
        after_runs = (*self.matryoshka_axes, *self.language_neutral, *self.centre)
        if any(s.teacher_task for s in (*self.train_pairs, *after_runs, *self.student_vocabulary)):
            raise EmbedliteError(
                "teacher_task is set on train_texts sources only (pairs read the recipe's teacher_task)"
            )
        if any(p.window for p in self.train_pairs):
            raise EmbedliteError("train_pairs are read pair by pair: a pair file takes no window")
        if self.train_pairs and self.pair_batch_size < 2:
            raise EmbedliteError("pair_batch_size must be at least 2: pairs are ranked against each other")
        for path in (
            *(s.path for s in text_sources),
            *(p.path for p in (*self.train_pairs, *after_runs, *self.student_vocabulary)),
            *(p for t in self.translations for p in (t.path, t.pivot)),
            self.teacher_embeddings,
            *(self._model_paths()),
        ):
            if path is not None and not Path(path).exists():
                raise EmbedliteError(f"file not found: {path}")
        dims = list(self.matryoshka_dims)
        if dims != sorted(set(dims), reverse=True) or any(d <= 0 for d in dims):
            raise EmbedliteError(
                f"matryoshka_dims {dims} must be distinct positive dims, largest first, "
                "so that each nests in the one before"
            )
        if self.geometry not in GEOMETRIES:
            raise EmbedliteError(f"geometry must be one of {', '.join(GEOMETRIES)}, got {self.geometry!r}")
        if not self.geometry_temperature > 0:
            raise EmbedliteError(f"geometry_temperature must be above 0, got {self.geometry_temperature}")
        if self.projection not in PROJECTIONS:
            raise EmbedliteError(f"projection must be one of {', '.join(PROJECTIONS)}, got {self.projection!r}")
        if any(b not in QAT_BITS for b in self.qat_bits):
            raise EmbedliteError(f"qat_bits must be among {QAT_BITS}, got {self.qat_bits!r}")
        if self.matryoshka_axes and self.matryoshka_axes_steps < 0:
            raise EmbedliteError("matryoshka_axes_steps must be 0 (the principal axes alone) or more")
        if len(self.language_neutral) == 1:
            raise EmbedliteError("language_neutral takes one text file per language, two languages or more")
        if self.student_vocabulary and self.student != "layers":
            raise EmbedliteError("student_vocabulary prunes the vocabulary of a 'layers' student's source")
        if self.translations and not (
            0 <= self.translation_weight <= 1 and self.translation_weight + self.translation_contrast_weight > 0
        ):
            raise EmbedliteError(
                "translations need a translation_weight from 0 to 1 and it or translation_contrast_weight above 0; "
                f"got {self.translation_weight} and {self.translation_contrast_weight}"
            )
        if self.translation_weight and self.translations and self.teacher_embeddings is not None:
            raise EmbedliteError("translation_weight moves teacher targets: it needs a teacher, not teacher_embeddings")
        if self.translation_contrast_weight < 0 or (self.translation_contrast_weight and not self.translations):
            raise EmbedliteError("translation_contrast_weight must be 0 or more, and above 0 it needs translations")
        hard = self.translation_hard_negatives
        if hard < 0 or (hard and not self.translation_contrast_weight):
            raise EmbedliteError(
                "translation_hard_negatives must be 0 or more, and above 0 it needs translation_contrast_weight"
            )
        if not 0 <= self.translation_margin < 1 or (self.translation_margin and not self.translation_contrast_weight):
            raise EmbedliteError(
                "translation_margin must be from 0 to below 1 (a cosine), "
                "and above 0 it needs translation_contrast_weight"
            )
        if self.translation_contrast_weight and self.translation_batch_size < 2:
            raise EmbedliteError("translation_batch_size must be at least 2: translations are told apart in a batch")
        if self.qat_bits and self.qat_epochs <= 0:
            raise EmbedliteError("qat_epochs must be positive when qat_bits are given")
        if self.batch_size < 2 or (self.hard_negatives and self.batch_size < 4):
            raise EmbedliteError(
                "batch_size must be at least 2 (4 with hard_negatives): contrastive losses need in-batch negatives"
            )

    def _model_paths(self) -> list[Path]:
        """Teacher and student source given as paths (known source names are fetched, not checked here)."""
        return [
            Path(p)
            for p in (self.teacher, self.student_source)
            if p is not None and not is_model_name(p) and self.student != "decoder"
        ]


def _mixture(value: Any) -> Mixture:
    if not isinstance(value, dict) or set(value) != {"name", "train_texts"}:
        raise EmbedliteError(f"a mixture is {{name, train_texts}}; got {value!r}")
    return Mixture(str(value["name"]), tuple(TextSource.of(t) for t in value["train_texts"]))


PATH_FIELDS = ("output", "teacher", "teacher_embeddings", "student_source", "cache_dir")


def config_from_file(path: Path, overrides: dict | None = None) -> DistillConfig:
    """A DistillConfig from a TOML file (top level or a [distill] table), `overrides` on top. Relative paths are
    taken from the file's folder, so a config and its data can move together; known source names stay names.
    `extends = "other.toml"` starts from that recipe's settings."""
    values = _recipe_values(Path(path), ())
    values.update(overrides or {})
    if "output" not in values:
        raise EmbedliteError(f"{path}: output must be set (in the file or as a flag)")
    try:
        return DistillConfig(**values)
    except TypeError as exc:
        raise EmbedliteError(f"{path}: {exc}") from None


def _recipe_values(path: Path, seen: tuple[Path, ...]) -> dict:  # noqa: C901 (one check per key kind, in a row)
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EmbedliteError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise EmbedliteError(f"{path} is not valid TOML: {exc}") from None
    values = values.get("distill", values)
    known = {f.name for f in dataclasses.fields(DistillConfig)}
    unknown = sorted(set(values) - known - {"extends"})
    if unknown:
        raise EmbedliteError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    base = path.parent

    def resolve(p):
        return p if is_model_name(p) or Path(p).is_absolute() else base / p

    def sources(texts):
        texts = [texts] if isinstance(texts, (str, dict)) else texts
        return tuple(
            TextSource.of({**t, "path": resolve(t.get("path", ""))} if isinstance(t, dict) else resolve(t))
            for t in texts
        )

    for key in PATH_FIELDS:
        if values.get(key) is not None:
            values[key] = resolve(values[key])
    for key in TEXT_SOURCE_FIELDS:
        if key in values:
            values[key] = sources(values[key])
    if "translations" in values:
        values["translations"] = tuple(
            {k: resolve(v) for k, v in t.items()} if isinstance(t, dict) else t for t in values["translations"]
        )
    if "mixtures" in values:
        values["mixtures"] = tuple(
            _mixture({**m, "train_texts": sources(m.get("train_texts", ()))}) if isinstance(m, dict) else m
            for m in values["mixtures"]
        )
    for key in ("student_layers", "matryoshka_dims"):
        if key in values:
            values[key] = tuple(values[key])
    if "extends" in values:
        parent = (base / values.pop("extends")).resolve()
        if parent in seen or parent == path.resolve():
            raise EmbedliteError(f"{path}: recipes extend each other in a loop ({parent.name})")
        values = {**_recipe_values(parent, (*seen, path.resolve())), **values}
    return values
