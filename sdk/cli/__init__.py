"""The `embedlite` command line: one module per command group, the options they share in `options`."""

from __future__ import annotations

import os
import sys

import click

from .embedding import embed, embed_file, similarity
from .evaluate import eval_group
from .export import export
from .index import index
from .models import info, models_command
from .serve import serve
from .training import distill, merge


@click.group()
@click.version_option(package_name="embedlite")
def main():
    """embedlite: on-device text embeddings."""
    if not sys.stderr.isatty():  # embedlite's own bars are off there (tqdm disable=None); so are the libraries'
        _quiet_library_progress_bars()


def _quiet_library_progress_bars() -> None:
    """Keep transformers' and huggingface_hub's bars ("Loading weights", "Writing model shards") out of logs: they
    read HF_HUB_DISABLE_PROGRESS_BARS when imported, and are switched off directly if already imported."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()


for command in (embed, embed_file, similarity, export, distill, merge, info, models_command, eval_group, index, serve):
    main.add_command(command)

__all__ = ["main"]
