"""Export sentence-transformers encoders to embedlite model artifacts."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from embedlite.artifact import Manifest, write_manifest
from embedlite.errors import EmbedliteError

MATRYOSHKA_LADDER = (1024, 768, 512, 256, 128, 64)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    manifest: Manifest
    parity: object  # converters.parity.Parity


def default_dims(dim: int) -> tuple[int, ...]:
    """The full dim, then the usual Matryoshka ladder below it."""
    return (dim, *(d for d in MATRYOSHKA_LADDER if d < dim))


def check_dims(dims: tuple[int, ...], full: int) -> tuple[int, ...]:
    dims = tuple(sorted(set(int(d) for d in dims), reverse=True))
    bad = [d for d in dims if d <= 0 or d > full]
    if bad:
        raise EmbedliteError(f"dims {bad} are outside 1..{full}, the model's embedding size")
    if full not in dims:
        dims = (full, *dims)
    return dims


def export(model: str | Path, out: str | Path, *, dims: tuple[int, ...] | None = None,
           name: str | None = None, source_name: str | None = None,
           parity_texts: list[str] | None = None, progress=print) -> ExportResult:
    """Convert a sentence-transformers model (directory or hub id) into an ONNX fp32 artifact at `out`."""
    from embedlite import __version__

    from . import parity
    from .onnx_export import export_onnx
    from .source import load_source

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise EmbedliteError(f"{out} exists and is not empty; choose a new output directory")
    progress(f"loading {model}")
    src = load_source(model)
    dims = check_dims(dims or default_dims(src.dim), src.dim)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".embedlite-export-", dir=out.parent))
    try:
        progress("exporting to ONNX")
        export_onnx(src.graph, staging / "model.onnx")
        save_tokenizer(src.st_model, staging / "tokenizer.json")
        manifest = write_manifest(staging, Manifest(
            name=name or src.name,
            source_model=source_name or str(model),
            architecture=src.architecture,
            format="onnx",
            precision="fp32",
            pooling=src.pooling,
            normalize=src.normalize,
            dim=src.dim,
            matryoshka_dims=dims,
            max_seq_length=src.max_seq_length,
            prompts=src.prompts,
            default_task=src.default_task,
            created_by=f"embedlite {__version__}",
        ))
        progress("checking parity against sentence-transformers")
        result = parity.measure(src.st_model, staging, parity_texts or parity.default_sentences())
        (staging / "report.json").write_text(json.dumps({"parity": result.__dict__}, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(out, manifest, result)


def save_tokenizer(st_model, path: Path) -> None:
    """Write the fast tokenizer as tokenizer.json; the runtime sets truncation and padding itself."""
    backend = getattr(st_model.tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise EmbedliteError("the model's tokenizer has no fast (tokenizers) version to export")
    backend.no_truncation()
    backend.no_padding()
    backend.save(str(path))
