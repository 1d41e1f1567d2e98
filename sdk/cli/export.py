"""`export`: a sentence-transformers model to embedlite artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import (
    JSON_OPTION,
    clean_errors,
    int_csv,
    split_csv,
)


@click.command()
@click.argument("model")
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--format", "formats", default="onnx", show_default=True, help="Comma separated: onnx, tflite.")
@click.option(
    "--precision",
    "precisions",
    default=None,
    help="Comma separated: fp32, fp16, int8 (speed), int8-accurate, int4 "
    "(default fp32; int8 for --target android/ios).",
)
@click.option(
    "--dims", default=None, help="Matryoshka dims, comma separated (default: full and 512/256/128/64 below it)."
)
@click.option("--output-dim", type=int, default=None, help="Fixed output dim, sliced and re-normalised in the graph.")
@click.option("--name", default=None, help="Model name for the manifest.")
@click.option(
    "--eval-data",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with stsb/ and stsb-retrieval/: adds STS-B, nDCG@10 and speed to each report.",
)
@click.option(
    "--target",
    type=click.Choice(["android", "ios"]),
    default=None,
    help="android, ios: one TFLite artifact (int8 unless --precision says) plus parity.json for the app.",
)
@click.option(
    "--parity-texts",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Texts (STS-B/SST-2 TSV, JSONL {text} or lines) the export is checked against the source on, int8 "
    "calibrates on, and --target writes into parity.json; default: built-in English sentences.",
)
@click.option(
    "--sequence-buckets",
    default=None,
    help="TFLite: the token counts it has signatures for, comma separated (default 16,24,32,48,64,128,256,512; "
    "the max length is always added). Fewer: a faster export and a smaller file.",
)
@JSON_OPTION
@clean_errors
def export(
    model,
    output,
    formats,
    precisions,
    dims,
    output_dim,
    name,
    eval_data,
    target,
    parity_texts,
    sequence_buckets,
    as_json,
):
    """Export a sentence-transformers MODEL (a directory, a hub id, or a known name: a shipped model such as
    embedlite-small, or all-MiniLM-L6-v2, all-mpnet-base-v2, paraphrase-MiniLM-L3-v2, embeddinggemma-300m) to
    embedlite artifacts."""
    from ..errors import require

    require("torch", "export", "embedlite export")  # before the converters import it: one line, not a traceback
    from embedlite.converters import summary_table

    from .. import export as run_export
    from ..files.records import distinct_texts, read_texts

    precisions = precisions or ("int8" if target else "fp32")
    texts = distinct_texts(read_texts(parity_texts)) if parity_texts else None
    if target:
        formats = "tflite"
        if len(split_csv(precisions)) != 1:
            raise click.UsageError(f"--target {target} makes one artifact: give one --precision")
    if sequence_buckets and "tflite" not in split_csv(formats):
        raise click.UsageError("--sequence-buckets shapes TFLite signatures: add --format tflite (or --target)")
    results = run_export(
        model,
        output,
        formats=split_csv(formats),
        precisions=split_csv(precisions),
        dims=int_csv(dims, "--dims") if dims else None,
        output_dim=output_dim,
        name=name,
        eval_data=eval_data,
        parity_texts=texts,
        sequence_buckets=int_csv(sequence_buckets, "--sequence-buckets") if sequence_buckets else None,
        progress=lambda msg: click.echo(msg, err=True),
    )
    if target:
        from embedlite.converters.mobile_bundle import write_parity
        from embedlite.converters.parity import default_sentences

        texts = texts or default_sentences()
        app_assets = {"android": "android_demo/app/src/main/assets/embedlite/", "ios": "ios/DemoApp/embedlite/"}
        click.echo(
            f"wrote {write_parity(results[0].path, texts)} ({len(texts)} texts); copy {results[0].path} "
            f"to {app_assets[target]}",
            err=True,
        )
    if as_json:
        click.echo(json.dumps([{"path": str(r.path), **r.report} for r in results]))
        return
    click.echo(summary_table(results))
    for r in results:
        click.echo(f"{r.path}: {r.parity.line()}")
