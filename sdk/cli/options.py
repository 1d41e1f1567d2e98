"""What the commands share: options declared once, the error wrapper, small helpers."""

from __future__ import annotations

import functools

import click

from ..errors import EmbedliteError

MODEL_OPTION = click.option(
    "--model",
    "-m",
    default=None,
    help="Artifact dir, sentence-transformers dir, hub id or name (default: the embedded one).",
)
DEVICE_OPTION = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto, cpu, cuda, coreml, directml, qnn, nnapi (ONNX); cpu, gpu, npu (LiteRT).",
)


def _remember_threads(ctx: click.Context, _param: click.Parameter, value: int | None) -> None:
    if value is not None and value < 1:
        raise click.BadParameter(f"{value} is not a thread count: give 1 or more")
    ctx.meta["embedlite.threads"] = value


# read by embedder_for(), so every command that loads a model takes it without passing it through
THREADS_OPTION = click.option(
    "--threads",
    type=int,
    default=None,
    expose_value=False,
    callback=_remember_threads,
    help="CPU threads the model may use (default: one per core).",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
DIM_OPTION = click.option("--dim", type=int, default=None, help="Matryoshka dim to truncate to.")
QUANTIZATION_OPTION = click.option(
    "--quantization", default=None, help="float32 (default), float16, int8 or binary; new stores only."
)


def clean_errors(fn):
    """Turn embedlite's own errors and bad arguments into one-line CLI errors."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (EmbedliteError, ValueError, TypeError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def embedder_for(model, device, dim=None):
    """The Embedder a command asked for, with its --threads where it has that option."""
    from ..embedder import Embedder

    context = click.get_current_context(silent=True)
    threads = context.meta.get("embedlite.threads") if context is not None else None
    return Embedder(model, device=device, dim=dim, threads=threads)


def split_csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def int_csv(value: str, option: str) -> tuple[int, ...]:
    """Comma separated whole numbers; anything else is a usage error naming the option and the value."""
    try:
        return tuple(int(v) for v in split_csv(value))
    except ValueError:
        raise click.BadParameter(f"comma separated whole numbers, got {value!r}", param_hint=option) from None


def short(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"
