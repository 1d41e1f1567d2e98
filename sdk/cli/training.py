"""`distill` and `merge`: make a student encoder."""

from __future__ import annotations

from pathlib import Path

import click

from .options import (
    clean_errors,
    split_csv,
)


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    help="A TOML file of settings (DistillConfig field names); flags given here override it.",
)
@click.option(
    "--teacher",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Teacher: a sentence-transformers directory.",
)
@click.option(
    "--teacher-embeddings",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Teacher: a .npy of embeddings, one row per training text (from any model or API).",
)
@click.option(
    "--data",
    "train_texts",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Training texts: STS-B/SST-2 TSV, JSONL {text} or plain lines; repeatable.",
)
@click.option("--output", "-o", type=click.Path(path_type=Path))
@click.option("--student", type=click.Choice(["layers", "random", "decoder"]), default="layers", show_default=True)
@click.option(
    "--layers", "student_layers", default="0,2,4", show_default=True, help="Teacher layers the student keeps."
)
@click.option(
    "--student-source",
    type=click.Path(path_type=Path),
    default=None,
    help="Gemma 3 LM directory for --student decoder.",
)
@click.option("--dims", "matryoshka_dims", default=None, help="Matryoshka dims, largest first, e.g. 384,256,128,64.")
@click.option("--max-texts", type=int, default=None)
@click.option("--epochs", default=1, show_default=True)
@click.option("--batch-size", default=64, show_default=True)
@click.option("--lr", "learning_rate", default=1e-4, show_default=True)
@click.option("--spread-out", "spread_out_weight", default=1.0, show_default=True, help="0 turns it off.")
@click.option(
    "--qat",
    "qat_bits",
    type=click.Choice(["8", "4"]),
    default=None,
    help="Fake-quantize weights in the last part of training.",
)
@click.option("--max-seq-length", default=128, show_default=True)
@click.option("--seed", default=0, show_default=True)
@clean_errors
def distill(config_file, **flags):
    """Distil a compact student encoder from a teacher; the output is exportable as it is."""
    from ..converters.quiet import require_sentence_transformers  # here: the CLI starts without the converters

    require_sentence_transformers("train", "Distillation")
    from click.core import ParameterSource

    from embedlite.training import DistillConfig, config_from_file
    from embedlite.training import distill as run_distill

    flags["student_layers"] = tuple(int(x) for x in split_csv(flags["student_layers"]))
    flags["matryoshka_dims"] = tuple(int(x) for x in split_csv(flags["matryoshka_dims"] or ""))
    flags["qat_bits"] = int(flags["qat_bits"]) if flags["qat_bits"] else None
    if config_file is not None:
        ctx = click.get_current_context()
        given = {k: v for k, v in flags.items() if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
        config = config_from_file(config_file, given)
    else:
        if not flags["train_texts"] or flags["output"] is None:
            raise click.UsageError("give --data and --output, or a --config file that sets them")
        config = DistillConfig(**flags)
    click.echo(f"wrote {run_distill(config)}")


@click.command()
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path))
@clean_errors
def merge(checkpoints, output):
    """Average CHECKPOINTS (sentence-transformers directories of one architecture) into OUTPUT."""
    from ..converters.quiet import require_sentence_transformers

    require_sentence_transformers("train", "Merging")
    from embedlite.training import merge as run_merge

    click.echo(f"wrote {run_merge(list(checkpoints), output)}")
