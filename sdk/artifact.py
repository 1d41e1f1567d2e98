"""The model artifact: a directory with manifest.json, the model file and tokenizer.json."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ArtifactError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL_FILES = {"onnx": "model.onnx", "tflite": "model.tflite"}
NOTICE = "NOTICE"  # a licence notice the model's files come with (Gemma), checksummed like them where present
GEMMA_LICENSE = "Gemma Terms of Use"  # the manifest's `license` of Gemma models and of what is made from them
GEMMA_NOTICE = (
    "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms.\n"
    "This artifact holds Gemma materials or a Model Derivative of them (weights derived from a Gemma model or\n"
    "trained on its outputs, the Gemma tokenizer);\n"
    "anything that redistributes it (a copy of the artifact, an app that bundles it) must carry this notice\n"
    "and the use restrictions of the Gemma Terms of Use.\n"
)


def package_version() -> str:
    """embedlite's installed version (artifacts record which embedlite made them)."""
    try:
        return importlib.metadata.version("embedlite")
    except importlib.metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


@dataclass(frozen=True)
class Manifest:
    """What a runtime needs to know about an exported model."""

    name: str
    source_model: str
    architecture: str
    format: str
    precision: str
    pooling: str
    normalize: bool
    dim: int
    matryoshka_dims: tuple[int, ...]
    max_seq_length: int
    prompts: dict[str, str] = field(default_factory=dict)
    default_task: str | None = None
    output_dim: int | None = None  # a fixed-dim artifact slices inside the graph
    sequence_buckets: tuple[int, ...] = ()  # static-shape formats (TFLite): signatures b{batch}_s{sequence}, the
    batch_buckets: tuple[int, ...] = ()  # file's list is the truth (the largest batch only for short sequences)
    files: dict[str, dict] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    created_by: str = ""
    license: str = ""  # the model's terms ("Gemma Terms of Use" for Gemma and its derivatives); "" where unstated

    @property
    def model_file(self) -> str:
        return MODEL_FILES[self.format]

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        for key in ("matryoshka_dims", "sequence_buckets", "batch_buckets"):
            data[key] = list(data[key])
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        known = {f.name for f in dataclasses.fields(cls)}
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ArtifactError(f"manifest.json lacks the fields: {', '.join(missing)}")
        kwargs = {k: v for k, v in data.items() if k in known}
        for key, value in kwargs.items():
            kind, check = FIELD_TYPES.get(key, ("text", _is_str))
            if not check(value):
                raise ArtifactError(f"manifest.json: {key} must be {kind}, got {json.dumps(value)[:80]}")
        for key in ("matryoshka_dims", "sequence_buckets", "batch_buckets"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)


def _is_str(value) -> bool:
    return isinstance(value, str)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_counts(value) -> bool:
    return isinstance(value, list) and all(_is_count(v) for v in value)


# each field's type, as a manifest must hold it (checked on load: a "dim": "384" failed far from the file)
FIELD_TYPES = {
    "normalize": ("true or false", lambda v: isinstance(v, bool)),
    "dim": ("a positive integer", _is_count),
    "max_seq_length": ("a positive integer", _is_count),
    "format_version": ("a positive integer", _is_count),
    "output_dim": ("a positive integer or null", lambda v: v is None or _is_count(v)),
    "default_task": ("a text or null", lambda v: v is None or _is_str(v)),
    "matryoshka_dims": ("a list of positive integers", _is_counts),
    "sequence_buckets": ("a list of positive integers", _is_counts),
    "batch_buckets": ("a list of positive integers", _is_counts),
    "prompts": ("an object of texts", lambda v: isinstance(v, dict) and all(map(_is_str, v.values()))),
    "files": (
        "an object of {sha256, bytes} objects",
        lambda v: isinstance(v, dict) and all(isinstance(f, dict) for f in v.values()),
    ),
}


def signature_name(batch: int, seq: int) -> str:
    """The name of a static-shape format's (batch, sequence) signature."""
    return f"b{batch}_s{seq}"


def parse_signature(name: str) -> tuple[int, int]:
    """(batch, sequence) of a signature name, or an ArtifactError naming it."""
    parts = name.split("_")
    if len(parts) != 2 or parts[0][:1] != "b" or parts[1][:1] != "s" or not all(p[1:].isdigit() for p in parts):
        raise ArtifactError(f"signature {name!r} is not named b<batch>_s<sequence>")
    return int(parts[0][1:]), int(parts[1][1:])


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, manifest: Manifest) -> Manifest:
    """Record size and sha256 of every file the model needs, then write manifest.json."""
    directory = Path(directory)
    names = [manifest.model_file, "tokenizer.json", *([NOTICE] if (directory / NOTICE).is_file() else [])]
    files = {}
    for name in names:
        path = directory / name
        files[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = dataclasses.replace(manifest, files=files)
    (directory / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def read_manifest(directory: Path | str, verify: bool = True) -> Manifest:
    """Read and check an artifact's manifest; with verify, check every file's size and sha256."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise ArtifactError(f"model artifact not found: {directory} is not a directory")
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: not an embedlite model artifact")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path} does not hold a JSON object")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(f"{path} has format_version {version!r}; this embedlite reads version {FORMAT_VERSION}")
    try:
        manifest = Manifest.from_dict(data)
    except TypeError as exc:
        raise ArtifactError(f"{path} is malformed: {exc}") from None
    if manifest.format not in MODEL_FILES:
        raise ArtifactError(f"{path} names an unknown format {manifest.format!r}")
    for name in (manifest.model_file, "tokenizer.json"):
        if name not in manifest.files:
            raise ArtifactError(f"{path} does not list {name} among its files")
    if verify:
        verify_files(directory, manifest)
    return manifest


def verify_files(directory: Path, manifest: Manifest) -> None:
    # the folder, and where its manifest really lives (an editable install links the package's files one by one)
    roots = (directory.resolve(), (directory / MANIFEST).resolve().parent)
    for name, info in manifest.files.items():
        path = directory / name
        # a manifest names files of its own directory: "../../etc/passwd" (or a link leading out) was read and
        # hashed on every load
        if Path(name).is_absolute() or not any(path.resolve().is_relative_to(root) for root in roots):
            raise ArtifactError(f"{directory / MANIFEST} names {name!r}, which is outside the artifact directory")
        if not isinstance(info, dict):
            raise ArtifactError(f"{directory / MANIFEST}: files[{name!r}] must be an object with sha256 and bytes")
        if not path.is_file():
            raise ArtifactError(f"{path} is missing from the model artifact")
        size = path.stat().st_size
        if "bytes" in info and size != info["bytes"]:
            raise ArtifactError(f"{path} is {size} bytes, the manifest says {info['bytes']}: truncated or replaced")
        if sha256_file(path) != info.get("sha256"):
            raise ArtifactError(f"{path} fails its sha256 check: the file is corrupt or was changed")
