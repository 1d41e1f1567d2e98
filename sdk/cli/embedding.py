"""`embed`, `embed-file` and `similarity`: texts and files to vectors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from .options import (
    DEVICE_OPTION,
    DIM_OPTION,
    JSON_OPTION,
    MODEL_OPTION,
    THREADS_OPTION,
    clean_errors,
    embedder_for,
    short,
)


@click.command()
@click.argument("texts", nargs=-1, required=True)
@MODEL_OPTION
@DEVICE_OPTION
@THREADS_OPTION
@DIM_OPTION
@click.option("--task", default=None, help="Task prompt name from the model's manifest (embedlite info lists them).")
@click.option("--query", "as_query", is_flag=True, help="Embed as search queries (the model's query prompt, if any).")
@click.option(
    "--document",
    "as_document",
    is_flag=True,
    help="Embed as documents to search (the model's document prompt, if any).",
)
@JSON_OPTION
@clean_errors
def embed(texts, model, device, dim, task, as_query, as_document, as_json):
    """Embed TEXTS (use - to read one text per line from stdin)."""
    if sum([task is not None, as_query, as_document]) > 1:
        raise click.UsageError("give one of --task, --query, --document")
    if texts == ("-",):
        texts = tuple(line.rstrip("\n") for line in sys.stdin)
    embedder = embedder_for(model, device)
    if as_query:
        vectors = embedder.embed_query(list(texts), dim=dim)
    elif as_document:
        vectors = embedder.embed_documents(list(texts), dim=dim)
    else:
        vectors = embedder.embed(list(texts), dim=dim, task=task)
    if as_json:
        click.echo(
            json.dumps([{"text": t, "embedding": [round(float(x), 7) for x in v]} for t, v in zip(texts, vectors)])
        )
        return
    for text, vector in zip(texts, vectors):
        head = " ".join(f"{x:+.4f}" for x in vector[:6])
        click.echo(f"{short(text, 40):<40}  dim={len(vector)}  [{head} ...]")


@click.command("embed-file")
@click.argument("source")
@click.option("--output", "-o", required=True, help="The Parquet file to write (with --ray: a folder of parts).")
@click.option(
    "--id-field",
    default="id",
    show_default=True,
    help="Field or column of each record's id; records without one get their line or row number.",
)
@click.option("--text-field", default="text", show_default=True, help="Field or column of the text.")
@DIM_OPTION
@click.option("--task", default=None, help="Task prompt name from the model's manifest.")
@click.option(
    "--precision",
    type=click.Choice(["float32", "float16", "int8"]),
    default="float32",
    show_default=True,
    help="How the vectors are written (int8: per-row scale in a 'scale' column).",
)
@click.option("--no-text", is_flag=True, help="Leave the texts out of the output.")
@click.option(
    "--window",
    default=4096,
    show_default=True,
    help="Texts read, tokenised and written together: memory and the resume step.",
)
@click.option("--batch-size", default=32, show_default=True)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="auto",
    default=None,
    help="Run on a Ray cluster: --ray (this machine's cluster, or a new local one) or --ray ADDRESS. "
    "Reads and writes Parquet: local paths or URIs pyarrow reaches.",
)
@click.option("--workers", default=1, show_default=True, help="With --ray: embedding actors.")
@MODEL_OPTION
@DEVICE_OPTION
@THREADS_OPTION
@JSON_OPTION
@clean_errors
def embed_file(
    source,
    output,
    id_field,
    text_field,
    dim,
    task,
    precision,
    no_text,
    window,
    batch_size,
    ray_address,
    workers,
    model,
    device,
    as_json,
):
    """Embed every record of SOURCE (JSONL, Parquet, CSV/TSV with a header, or plain lines) into a Parquet file
    of id, vector and text. Run it again after an interruption: it goes on from the last rows written."""
    options = {
        "id_column": id_field,
        "text_column": text_field,
        "dim": dim,
        "task": task,
        "precision": precision,
        "with_text": not no_text,
        "batch_size": batch_size,
        "window": window,
    }
    if ray_address is not None:
        from ..jobs.distributed import connect, embed_parquet

        connect(ray_address)
        written = embed_parquet(source, output, model, workers=workers, **options)
        info = {"path": written, "workers": workers}
    else:
        from ..jobs.embed_file import embed_file as run

        result = run(
            embedder_for(model, device, dim),
            Path(source),
            Path(output),
            id_field=id_field,
            text_field=text_field,
            task=task,
            precision=precision,
            with_text=not no_text,
            window=window,
            batch_size=batch_size,
            progress=not as_json,
        )
        info = {"path": str(result.path), "rows": result.rows, "resumed_at": result.resumed_at}
    if as_json:
        click.echo(json.dumps(info))
    elif "rows" in info:
        resumed = f" (resumed after row {info['resumed_at']})" if info["resumed_at"] else ""
        click.echo(f"wrote {info['path']}: {info['rows']} rows{resumed}")
    else:
        click.echo(f"wrote {info['path']} ({workers} Ray workers)")


@click.command()
@click.argument("text_a")
@click.argument("text_b")
@MODEL_OPTION
@DEVICE_OPTION
@THREADS_OPTION
@DIM_OPTION
@JSON_OPTION
@clean_errors
def similarity(text_a, text_b, model, device, dim, as_json):
    """Cosine similarity of two texts."""
    a, b = embedder_for(model, device).embed([text_a, text_b], dim=dim)
    score = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    click.echo(json.dumps({"similarity": score}) if as_json else f"{score:.4f}")
