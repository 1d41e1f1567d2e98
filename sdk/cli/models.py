"""`info` and `models`: what an artifact holds, and the models known by name."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import EmbedliteError
from .options import (
    JSON_OPTION,
    clean_errors,
)


@click.command()
@click.argument("artifact")
@JSON_OPTION
@clean_errors
def info(artifact, as_json):
    """Show an artifact's manifest and check its files: ARTIFACT is a directory or a model name."""
    from embedlite.runtimes.cpu import int8_kernels

    from ..artifact import MANIFEST, read_manifest
    from ..models import RECIPES, SHIPPED, built_artifact, in_home, known_names, shipped_artifact, suggestion

    path = Path(artifact)
    if artifact in SHIPPED:
        path = shipped_artifact(artifact)
    elif artifact in RECIPES and not (path / MANIFEST).is_file():
        path = built_artifact(artifact)
    elif artifact in known_names() and not (path / MANIFEST).is_file():
        converted = in_home(artifact)
        if converted is None:
            raise EmbedliteError(
                f"{artifact} is known but not converted yet: it is fetched and converted on first "
                f"use (embedlite embed -m {artifact} x, with embedlite[export])"
            )
        path = converted
    elif not path.exists():
        raise EmbedliteError(f"{artifact}: no such artifact directory{suggestion(artifact)}")
    manifest = read_manifest(path)
    if as_json:
        click.echo(json.dumps({**json.loads(manifest.to_json()), "cpu": int8_kernels()}))
        return
    size = sum(f["bytes"] for f in manifest.files.values())
    rows = [
        ("name", manifest.name),
        ("source", manifest.source_model),
        ("architecture", manifest.architecture),
        ("format", f"{manifest.format} / {manifest.precision}"),
        ("pooling", manifest.pooling + (" + normalize" if manifest.normalize else "")),
        ("dims", ", ".join(map(str, manifest.matryoshka_dims))),
        ("max length", manifest.max_seq_length),
        ("tasks", ", ".join(manifest.prompts) or "-"),
        ("license", manifest.license or "-"),
        ("size", f"{size / 1e6:.1f} MB"),
        ("checksums", "ok"),
        ("this cpu", int8_kernels()),  # which int8 kernels onnxruntime runs here (VNNI or not)
    ]
    for key, value in rows:
        click.echo(f"{key:<13}{value}")


SHORT_STATUS = {"shipped (default)": "default", "fetched on first use": "not fetched"}
SHORT_LICENSE = {"Gemma Terms of Use; MIT": "Gemma ToU; MIT", "Gemma Terms of Use; Apache-2.0": "Gemma ToU; Apache"}


@click.command("models")
@JSON_OPTION
@clean_errors
def models_command(as_json):
    """List the models known by name: the shipped default, those fetched and converted on first use, and those a
    recipe of the repository builds."""
    from ..models import catalog

    rows = catalog()
    if as_json:
        click.echo(json.dumps(rows))
        return
    width = max(len(row["name"]) for row in rows) + 1
    click.echo(f"{'name':<{width}}{'dims':<16}{'license':<19}{'lang':<5}status")
    for row in rows:  # in 80 columns: two statuses and a licence said shorter here (--json says them whole)
        dims = ",".join(map(str, row["dims"])) if row["dims"] else "-"
        status = SHORT_STATUS.get(row["status"], row["status"])
        licence = SHORT_LICENSE.get(row["license"], row["license"])
        click.echo(f"{row['name']:<{width}}{dims:<16}{licence:<19}{row['languages']:<5}{status}")
