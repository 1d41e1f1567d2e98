"""Export sentence-transformers encoders to embedlite model artifacts."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from embedlite.artifact import MODEL_FILES, Manifest, write_manifest
from embedlite.errors import EmbedliteError

MATRYOSHKA_LADDER = (1024, 768, 512, 256, 128, 64)
FORMATS = ("onnx", "tflite")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    manifest: Manifest
    parity: object  # converters.parity.Parity
    report: dict


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


def check_targets(formats, precisions) -> list[tuple[str, str]]:
    from .onnx_quantize import PRECISIONS

    for fmt in formats:
        if fmt not in FORMATS:
            raise EmbedliteError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    for precision in precisions:
        if precision not in PRECISIONS:
            raise EmbedliteError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    return [(f, p) for f in formats for p in precisions]


def export(model: str | Path, out: str | Path, *, formats: tuple[str, ...] = ("onnx",),
           precisions: tuple[str, ...] = ("fp32",), dims: tuple[int, ...] | None = None,
           output_dim: int | None = None, name: str | None = None, source_name: str | None = None,
           parity_texts: list[str] | None = None, eval_data: Path | None = None,
           progress=print) -> list[ExportResult]:
    """Convert a sentence-transformers model (directory or hub id) into one artifact per (format, precision).

    With one target, `out` is the artifact; with several, each goes to out/<format>-<precision>.
    output_dim makes a fixed-dim artifact (sliced and re-normalised inside the graph).
    eval_data (a folder with stsb/ and stsb-retrieval/) adds STS-B, nDCG@10 and speed to each report.
    """
    from embedlite import __version__

    from . import parity
    from .notice import write_notice
    from .onnx_export import export_onnx
    from .onnx_quantize import quantize
    from .packed_embedding import with_packed_embeddings
    from .report import evaluate, write_report
    from .source import load_source
    from .tflite_export import BATCH_BUCKETS, buckets_for, export_tflite, quantize_tflite

    targets = check_targets(formats, precisions)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise EmbedliteError(f"{out} exists and is not empty; choose a new output directory")
    progress(f"loading {model}")
    src = load_source(model)
    if src.architecture.startswith("gemma") and "fp16" in precisions:
        raise EmbedliteError("Gemma activations overflow fp16 (EmbeddingGemma does not support float16); "
                             "export fp32, int8 or int4 instead")
    dims = check_dims(dims or default_dims(src.dim), src.dim)
    if output_dim is not None:
        if output_dim not in dims:
            raise EmbedliteError(f"output_dim {output_dim} is not one of the dims {list(dims)}")
        src.graph.output_dim = output_dim
    texts = parity_texts or parity.default_sentences()
    seq_buckets = buckets_for(src.max_seq_length)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".embedlite-export-", dir=out.parent))
    try:
        float_models = {}
        for fmt in dict.fromkeys(f for f, _ in targets):
            progress(f"converting to {fmt}")
            float_models[fmt] = staging / f"float.{fmt}"
            if fmt == "onnx":
                export_onnx(src.graph, float_models[fmt])
            else:
                export_tflite(src.graph, float_models[fmt], seq_buckets)
        if ("tflite", "int4") in targets:  # its own conversion: the vocabulary table packed to 4 bits first
            progress("converting to tflite with a 4-bit embedding table")
            float_models["tflite-int4"] = staging / "float-packed.tflite"
            export_tflite(with_packed_embeddings(src.graph), float_models["tflite-int4"], seq_buckets)
        reference = src.st_model.encode(texts, batch_size=32, convert_to_numpy=True)
        if output_dim is not None:
            reference = reference[:, :output_dim]
        base = Manifest(
            name=name or src.name, source_model=source_name or str(model),
            architecture=src.architecture, format="onnx", precision="fp32", pooling=src.pooling,
            normalize=src.normalize, dim=src.dim, matryoshka_dims=dims, max_seq_length=src.max_seq_length,
            prompts=src.prompts, default_task=src.default_task, output_dim=output_dim,
            created_by=f"embedlite {__version__}",
        )
        results = []
        for fmt, precision in targets:
            progress(f"writing {fmt} {precision}")
            target = staging / f"{fmt}-{precision}"
            target.mkdir()
            model_file = target / MODEL_FILES[fmt]
            if fmt == "onnx":
                quantize(float_models[fmt], model_file, precision)
            elif precision == "fp32":
                shutil.copyfile(float_models[fmt], model_file)
            else:
                quantize_tflite(float_models.get(f"{fmt}-{precision}", float_models[fmt]), model_file, precision)
            save_tokenizer(src.st_model, target / "tokenizer.json")
            parity.check_tokenizer(src.st_model, target / "tokenizer.json", texts)
            write_notice(target, src.architecture)
            static = {"sequence_buckets": seq_buckets, "batch_buckets": BATCH_BUCKETS} if fmt == "tflite" else {}
            manifest = write_manifest(target, dataclasses.replace(base, format=fmt, precision=precision, **static))
            result = parity.compare_artifact(reference, target, texts)
            report = {"format": fmt, "precision": precision, "parity": dataclasses.asdict(result),
                      "bytes": manifest.files[manifest.model_file]["bytes"]}
            if eval_data is not None:
                progress(f"evaluating {fmt} {precision}")
                report.update(evaluate(target, Path(eval_data)))
            write_report(target, manifest, report)
            results.append(ExportResult(target, manifest, result, report))
        for path in float_models.values():
            path.unlink()
        if out.exists():
            out.rmdir()  # empty: checked above
        if len(results) == 1:
            final = [dataclasses.replace(results[0], path=out)]
            results[0].path.rename(out)
            shutil.rmtree(staging)
        else:
            final = [dataclasses.replace(r, path=out / r.path.name) for r in results]
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def save_tokenizer(st_model, path: Path) -> None:
    """Write the fast tokenizer as tokenizer.json; the runtime sets truncation and padding itself."""
    backend = getattr(st_model.tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise EmbedliteError("the model's tokenizer has no fast (tokenizers) version to export")
    backend.no_truncation()
    backend.no_padding()
    backend.save(str(path))


def summary_table(results: list[ExportResult]) -> str:
    """A markdown table of the exported artifacts."""
    keys = [k for k in ("sts_spearman", "ndcg@10", "sentences_per_s") if k in results[0].report]
    head = "| artifact | MB | min cos | mean cos |" + "".join(f" {k} |" for k in keys)
    rows = [head, "|---" * (4 + len(keys)) + "|"]
    for r in results:
        p = r.parity
        cells = "".join(f" {r.report[k]:.4f} |" if k != "sentences_per_s" else f" {r.report[k]:.0f} |"
                        for k in keys)
        rows.append(f"| {r.path.name} | {r.report['bytes'] / 1e6:.1f} | {p.min_cosine:.4f} "
                    f"| {p.mean_cosine:.5f} |{cells}")
    return "\n".join(rows)
