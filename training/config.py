"""Distillation settings, checked before any training starts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from embedlite.errors import EmbedliteError

STUDENT_INITS = ("layers", "random", "decoder")
QAT_BITS = (None, 8, 4)


@dataclass(frozen=True)
class DistillConfig:
    """teacher: a sentence-transformers directory; or teacher_embeddings (.npy, one row per text in
    train_texts order) computed by any model or API. student: how the student starts (see STUDENT_INITS):
    'layers' keeps teacher layers `student_layers`; 'random' builds `student_size` ('tiny'); 'decoder' turns
    the causal Gemma 3 LM at `student_source` into a bidirectional encoder."""

    train_texts: tuple[Path, ...]
    output: Path
    teacher: Path | None = None
    teacher_embeddings: Path | None = None
    student: str = "layers"
    student_layers: tuple[int, ...] = (0, 2, 4)
    student_size: str = "tiny"
    student_source: Path | None = None
    matryoshka_dims: tuple[int, ...] = ()
    max_texts: int | None = None
    max_seq_length: int = 128
    epochs: int = 1
    batch_size: int = 64
    learning_rate: float = 1e-4
    temperature: float = 0.05
    nce_weight: float = 1.0
    same_tower_negatives: bool = True
    spread_out_weight: float = 1.0
    qat_bits: int | None = None
    qat_fraction: float = 0.2  # the last part of training runs with fake-quantized weights
    prompt: str = ""  # task prompt prepended to every training text, as the manifest will declare it
    seed: int = 0
    cache_dir: Path | None = None
    extra: dict = field(default_factory=dict)

    def validate(self) -> None:
        if self.student not in STUDENT_INITS:
            raise EmbedliteError(f"unknown student init {self.student!r}; choose from {', '.join(STUDENT_INITS)}")
        if self.student == "random" and self.student_size not in ("tiny",):
            raise EmbedliteError(f"unknown student size {self.student_size!r} for a random BERT student; "
                                 "use 'tiny', or build an EmbeddingGemma-shaped model (fixtures/embeddinggemma.py)")
        if self.student == "decoder" and (self.student_source is None or not Path(self.student_source).is_dir()):
            raise EmbedliteError("student 'decoder' needs student_source, a Gemma 3 LM directory; "
                                 f"got {self.student_source}")
        if (self.teacher is None) == (self.teacher_embeddings is None):
            raise EmbedliteError("give exactly one of teacher (a model directory) or teacher_embeddings (.npy)")
        for path in (*self.train_texts, self.teacher_embeddings, self.teacher):
            if path is not None and not Path(path).exists():
                raise EmbedliteError(f"file not found: {path}")
        if not self.train_texts:
            raise EmbedliteError("no train_texts given")
        dims = list(self.matryoshka_dims)
        if dims != sorted(set(dims), reverse=True) or any(d <= 0 for d in dims):
            raise EmbedliteError(f"matryoshka_dims {dims} must be distinct positive dims, largest first, "
                                 "so that each nests in the one before")
        if self.qat_bits not in QAT_BITS:
            raise EmbedliteError(f"qat_bits must be 8, 4 or None, got {self.qat_bits!r}")
        if not 0 < self.qat_fraction <= 1:
            raise EmbedliteError("qat_fraction must be in (0, 1]")
        if self.batch_size < 2:
            raise EmbedliteError("batch_size must be at least 2: contrastive losses need in-batch negatives")


PATH_FIELDS = ("output", "teacher", "teacher_embeddings", "student_source", "cache_dir")


def config_from_file(path: Path, overrides: dict | None = None) -> DistillConfig:
    """A DistillConfig from a TOML file (top level or a [distill] table), `overrides` on top. Relative paths are
    taken from the file's folder, so a config and its data can move together."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = Path(path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EmbedliteError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise EmbedliteError(f"{path} is not valid TOML: {exc}") from None
    values = values.get("distill", values)
    known = {f.name for f in dataclasses.fields(DistillConfig)} - {"extra"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise EmbedliteError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    base = path.parent

    def resolve(p):
        return p if Path(p).is_absolute() else base / p

    for key in PATH_FIELDS:
        if values.get(key) is not None:
            values[key] = resolve(values[key])
    if "train_texts" in values:
        texts = values["train_texts"]
        values["train_texts"] = tuple(resolve(t) for t in ([texts] if isinstance(texts, str) else texts))
    for key in ("student_layers", "matryoshka_dims"):
        if key in values:
            values[key] = tuple(values[key])
    values.update(overrides or {})
    missing = [k for k in ("train_texts", "output") if k not in values]
    if missing:
        raise EmbedliteError(f"{path}: {', '.join(missing)} must be set (in the file or as flags)")
    return DistillConfig(**values)
