"""`eval sts` and `eval retrieval`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import (
    DEVICE_OPTION,
    DIM_OPTION,
    JSON_OPTION,
    MODEL_OPTION,
    THREADS_OPTION,
    clean_errors,
    embedder_for,
)


@click.group("eval")
def eval_group():
    """Evaluate a model on STS or a BEIR-format retrieval set."""


@eval_group.command("sts")
@click.argument("sts_file", type=click.Path(path_type=Path))
@MODEL_OPTION
@DEVICE_OPTION
@THREADS_OPTION
@DIM_OPTION
@JSON_OPTION
@clean_errors
def eval_sts(sts_file, model, device, dim, as_json):
    """Spearman of cosine vs gold on an STS Benchmark TSV (e.g. sts-test.csv)."""
    from ..evaluation import load_sts, sts_spearman

    score = sts_spearman(embedder_for(model, device, dim), load_sts(sts_file))
    click.echo(json.dumps({"spearman": score}) if as_json else f"STS Spearman: {score:.4f}")


@eval_group.command("retrieval")
@click.argument("beir_dir", type=click.Path(path_type=Path))
@MODEL_OPTION
@DEVICE_OPTION
@THREADS_OPTION
@DIM_OPTION
@click.option("--split", default="test", show_default=True)
@JSON_OPTION
@clean_errors
def eval_retrieval(beir_dir, model, device, dim, split, as_json):
    """nDCG@10 and Recall@100 on a BEIR-format directory."""
    from ..evaluation import load_retrieval, retrieval_scores

    scores = retrieval_scores(embedder_for(model, device, dim), load_retrieval(beir_dir, split))
    if as_json:
        click.echo(json.dumps(scores))
    else:
        for key, value in scores.items():
            click.echo(f"{key}: {value:.4f}")
