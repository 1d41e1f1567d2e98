"""Export a sentence-transformers encoder to one artifact per (format, precision), in named steps:
load the source, convert the graph once per format variant, finish each precision, write manifest, parity and
report, then move the artifacts into place."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from embedlite.artifact import GEMMA_LICENSE, MODEL_FILES, NOTICE, Manifest, package_version, write_manifest
from embedlite.errors import EmbedliteError
from embedlite.files.staging import staging_folder
from embedlite.models import origin

from .formats import Target, targets
from .parity import Parity

MATRYOSHKA_LADDER = (1024, 768, 512, 256, 128, 64)
log = logging.getLogger("embedlite.export")


@dataclass(frozen=True)
class ExportResult:
    """One artifact written by export(): its directory, its manifest, and how close it came to the source."""

    path: Path
    manifest: Manifest
    parity: Parity
    report: dict


def export(
    model: str | Path,
    out: str | Path,
    *,
    formats: tuple[str, ...] = ("onnx",),
    precisions: tuple[str, ...] = ("fp32",),
    dims: tuple[int, ...] | None = None,
    output_dim: int | None = None,
    name: str | None = None,
    source_name: str | None = None,
    parity_texts: list[str] | None = None,
    eval_data: Path | None = None,
    sequence_buckets: tuple[int, ...] | None = None,
    progress: Callable[[str], object] | None = None,
) -> list[ExportResult]:
    """Export a sentence-transformers encoder to embedlite artifacts (needs `pip install 'embedlite[export]'`;
    TFLite also needs 'embedlite[litert-export]').

    model: a sentence-transformers directory, a hub id, or a known name (a shipped model such as embedlite-small,
        rebuilt from its weights; all-MiniLM-L6-v2, all-mpnet-base-v2, paraphrase-MiniLM-L3-v2, embeddinggemma-300m).
    out: the artifact directory (with several formats/precisions: a folder of <format>-<precision> artifacts).
    formats: any of 'onnx', 'tflite'.
    precisions: any of 'fp32', 'fp16', 'int8' (integer compute, activations per token: the embedded default's),
        'int8-accurate' (weight-only), 'int4' (smallest).
    dims: the Matryoshka dims the artifact offers (default: the full dim and 512/256/128/64 below it).
    output_dim: make a fixed-dim artifact, sliced and re-normalised inside the graph.
    name, source_name: the manifest's model name and source (default: a known name's own, else taken from the
        model); a known name's export also keeps its licence and NOTICE.
    parity_texts: texts to compare the artifact with the source model on, and that int8 calibrates its smoothing
        on (default: built-in sentences).
    eval_data: a folder with stsb/ and stsb-retrieval/: adds STS-B, nDCG@10 and speed to each report.
    sequence_buckets: TFLite: the token counts it has signatures for (default 16 ... 512); the max length is always
        added. Fewer make a smaller file and a faster export; a text runs padded to the next bucket up.
    progress: called with one line per step (default: the steps are logged at INFO on 'embedlite.export').
    Returns one ExportResult (path, manifest, parity, report) per artifact.
    """
    from .source import load_source

    progress = progress or log.info
    plan = targets(formats, precisions)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise EmbedliteError(f"{out} exists and is not empty; choose a new output directory")
    progress(f"loading {model}")
    src = load_source(model, output_dim=output_dim)
    if src.architecture.startswith("gemma") and "fp16" in precisions:
        raise EmbedliteError(
            "Gemma activations overflow fp16 (EmbeddingGemma does not support float16); "
            "export fp32, int8 or int4 instead"
        )
    known = origin(str(model))  # a shipped model or a known source: its name, source, licence, dims and notice
    terms = distilled_terms(Path(model))  # a student distilled here: the terms of what it was made from
    dims = check_dims(dims or (known.dims if known else ()) or default_dims(src.dim), src.dim)
    if output_dim is not None and output_dim not in dims:
        raise EmbedliteError(f"output_dim {output_dim} is not one of the dims {list(dims)}")
    from . import parity
    from .tflite_export import buckets_for

    texts = parity_texts or parity.default_sentences()
    seq_buckets = buckets_for(src.max_seq_length, sequence_buckets)
    with staging_folder(out.parent, ".embedlite-export-", "an export") as staging:
        save_tokenizer(src.st_model, staging / "tokenizer.json")
        parity.check_tokenizer(src.st_model, staging / "tokenizer.json", texts)
        calibration = calibration_feeds(staging / "tokenizer.json", texts, src.max_seq_length)
        converted = _convert(src.graph, plan, staging, seq_buckets, progress, calibration)
        reference = src.st_model.encode(texts, batch_size=32, convert_to_numpy=True)[:, :output_dim]
        base = Manifest(
            name=name or (known.name if known else src.name),
            source_model=source_name or (known.source_model if known else str(model)),
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
            output_dim=output_dim,
            created_by=f"embedlite {package_version()}",
            license=GEMMA_LICENSE if src.architecture.startswith("gemma") else (known or terms).license,
        )
        notice = (known or terms).notice
        results = [
            _write_artifact(
                target,
                converted,
                base,
                notice,
                seq_buckets,
                reference,
                texts,
                eval_data,
                staging,
                progress,
                calibration,
            )
            for target in plan
        ]
        for path in converted.values():
            path.unlink()
        return _move_into_place(results, staging, out)


def distilled_terms(directory: Path) -> SimpleNamespace:
    """The licence and notice `embedlite distill` recorded beside a student it saved (distill.json, NOTICE);
    empty for any other directory."""
    record = directory / "distill.json"
    licence = json.loads(record.read_text(encoding="utf-8")).get("license", "") if record.is_file() else ""
    notice = directory / NOTICE
    return SimpleNamespace(license=licence, notice=notice.read_text(encoding="utf-8") if notice.is_file() else None)


def default_dims(dim: int) -> tuple[int, ...]:
    """The full dim, then the usual Matryoshka ladder below it."""
    return (dim, *(d for d in MATRYOSHKA_LADDER if d < dim))


def check_dims(dims: tuple[int, ...], full: int) -> tuple[int, ...]:
    """The Matryoshka dims, largest first, each within the model's width `full`."""
    dims = tuple(sorted(set(int(d) for d in dims), reverse=True))
    bad = [d for d in dims if d <= 0 or d > full]
    if bad:
        raise EmbedliteError(f"dims {bad} are outside 1..{full}, the model's embedding size")
    return dims if full in dims else (full, *dims)


def save_tokenizer(st_model, path: Path) -> None:
    """Write the fast tokenizer as tokenizer.json; the runtime sets truncation and padding itself."""
    backend = getattr(st_model.tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise EmbedliteError("the model's tokenizer has no fast (tokenizers) version to export")
    backend.no_truncation()
    backend.no_padding()
    backend.save(str(path))


def calibration_feeds(tokenizer: Path, texts: list[str], max_length: int) -> list[dict[str, np.ndarray]]:
    """The parity texts as model inputs, in batches of 8: what int8 chooses its smoothing on."""
    from embedlite.runtimes.tokenizer import TextTokenizer, pad_batch

    tok = TextTokenizer(tokenizer, max_length)
    ids, _ = tok.encode(texts)
    feeds = []
    for i in range(0, len(ids), 8):
        input_ids, mask = pad_batch(ids[i : i + 8], tok.pad_id)
        feeds.append({"input_ids": input_ids, "attention_mask": mask})
    return feeds


def _convert(
    graph,
    plan: list[Target],
    staging: Path,
    seq_buckets: tuple[int, ...],
    progress: Callable[[str], object],
    calibration: list[dict[str, np.ndarray]],
) -> dict[tuple[str, str], Path]:
    """Each format variant the plan needs, converted once: (format, variant) -> file."""
    converted: dict[tuple[str, str], Path] = {}
    for target in plan:
        key = (target.format.name, target.format.variant(target.precision))
        if key not in converted:
            progress(f"converting to {key[0]}" + (f" ({key[1]})" if key[1] != "float" else ""))
            converted[key] = staging / f"{key[1]}.{key[0]}"
            target.format.convert(graph, key[1], converted[key], seq_buckets, calibration)
    return converted


def _write_artifact(
    target: Target,
    converted: dict,
    base: Manifest,
    notice: str | None,
    seq_buckets: tuple[int, ...],
    reference: np.ndarray,
    texts: list[str],
    eval_data: Path | None,
    staging: Path,
    progress: Callable[[str], object],
    calibration: list[dict[str, np.ndarray]],
) -> ExportResult:
    """Finish one precision, then its tokenizer, manifest, parity and report, in staging/<format>-<precision>."""
    from embedlite.runtimes.cpu import int8_kernels

    from . import parity
    from .notice import write_notice
    from .report import evaluate, write_report

    progress(f"writing {target.format.name} {target.precision}")
    folder = staging / target.name
    folder.mkdir()
    fmt = target.format
    notes = fmt.finish(
        converted[(fmt.name, fmt.variant(target.precision))],
        target.precision,
        folder / MODEL_FILES[fmt.name],
        base.architecture,
        calibration,
    )
    shutil.copyfile(staging / "tokenizer.json", folder / "tokenizer.json")
    write_notice(folder, base.architecture, notice)
    manifest = write_manifest(
        folder,
        dataclasses.replace(base, format=fmt.name, precision=target.precision, **fmt.manifest_fields(seq_buckets)),
    )
    result = parity.compare_artifact(reference, folder, texts)
    # the int8 kernels differ between CPUs (embedlite.runtimes.cpu): say which ones measured the parity
    report = {
        "format": fmt.name,
        "precision": target.precision,
        "parity": dataclasses.asdict(result),
        "bytes": manifest.files[manifest.model_file]["bytes"],
        "cpu": int8_kernels(),
        **notes,
    }
    if eval_data is not None:
        progress(f"evaluating {fmt.name} {target.precision}")
        report.update(evaluate(folder, Path(eval_data)))
    write_report(folder, manifest, report)
    return ExportResult(folder, manifest, result, report)


def _move_into_place(results: list[ExportResult], staging: Path, out: Path) -> list[ExportResult]:
    if out.exists():
        out.rmdir()  # empty: checked before the export
    if len(results) == 1:
        results[0].path.rename(out)  # the staging folder goes at the end of its block
        return [dataclasses.replace(results[0], path=out)]
    for leftover in staging.iterdir():
        if not leftover.is_dir():
            leftover.unlink()
    staging.rename(out)
    return [dataclasses.replace(r, path=out / r.path.name) for r in results]


def summary_table(results: list[ExportResult]) -> str:
    """A markdown table of the exported artifacts."""
    keys = [k for k in ("sts_spearman", "ndcg@10", "sentences_per_s") if k in results[0].report]
    head = "| artifact | MB | min cos | mean cos |" + "".join(f" {k} |" for k in keys)
    rows = [head, "|---" * (4 + len(keys)) + "|"]
    for r in results:
        p = r.parity
        cells = "".join(f" {r.report[k]:.4f} |" if k != "sentences_per_s" else f" {r.report[k]:.0f} |" for k in keys)
        rows.append(
            f"| {r.path.name} | {r.report['bytes'] / 1e6:.1f} | {p.min_cosine:.4f} | {p.mean_cosine:.5f} |{cells}"
        )
    return "\n".join(rows)
