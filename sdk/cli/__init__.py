"""The `embedlite` command line: one module per command group, the options they share in `options`."""

from __future__ import annotations

import click

from ..progress import keep_library_bars_off_logs
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
    keep_library_bars_off_logs()


for command in (embed, embed_file, similarity, export, distill, merge, info, models_command, eval_group, index, serve):
    main.add_command(command)

__all__ = ["main"]
