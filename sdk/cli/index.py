"""`index add|import|search|info`: a local vector store."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import click

from ..errors import EmbedliteError
from .options import (
    DEVICE_OPTION,
    JSON_OPTION,
    MODEL_OPTION,
    QUANTIZATION_OPTION,
    THREADS_OPTION,
    clean_errors,
    embedder_for,
    short,
)


@click.group()
def index():
    """A local vector store (one SQLite file): add, import, search, info."""


@index.command("add")
@click.argument("db", type=click.Path(path_type=Path))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@MODEL_OPTION
@DEVICE_OPTION
@THREADS_OPTION
@QUANTIZATION_OPTION
@click.option("--batch-size", default=256, show_default=True, help="Records per transaction.")
@click.option("--upsert", is_flag=True, help="Replace records whose id exists with another text or metadata.")
@click.option("--id-field", default="id", show_default=True, help="Field (column) holding the id, if any.")
@click.option("--text-field", default="text", show_default=True, help="Field (column) holding the text.")
@clean_errors
def index_add(db, file, model, device, quantization, batch_size, upsert, id_field, text_field):
    """Add FILE to the store DB: JSONL, CSV/TSV with a header, Parquet, or plain text (one record per line).

    Records without an id get FILE's name and their line (row): notes.txt:3. Run it again to resume: records
    already stored with the same text and metadata are skipped, not embedded again."""
    from tqdm.auto import tqdm

    from ..files.records import count_records, read_records
    from ..store import VectorStore

    total = count_records(file)
    records = read_records(file, id_field, text_field)
    added = replaced = unchanged = 0
    with VectorStore(db, quantization=quantization, embedder=embedder_for(model, device)) as store:
        with tqdm(total=total, unit="rec", desc="indexing", disable=None) as bar:
            while chunk := list(itertools.islice(records, batch_size)):
                new, changed = store.compare(
                    [r.id for r in chunk], [r.text for r in chunk], [r.metadata for r in chunk]
                )
                if changed and not upsert:
                    ids = [chunk[n].id for n in changed]
                    raise EmbedliteError(
                        f"{file}: {len(ids)} record(s) of this batch have ids already in {db} with "
                        f"another text or metadata ({', '.join(ids[:3])}); pass --upsert to "
                        "replace them, or give them other ids"
                    )
                todo = [chunk[n] for n in sorted(new + changed)]
                if todo:
                    store.upsert(
                        [r.id for r in todo], texts=[r.text for r in todo], metadata=[r.metadata for r in todo]
                    )
                added, replaced = added + len(new), replaced + len(changed)
                unchanged += len(chunk) - len(todo)
                bar.update(len(chunk))
        count = store.count()
    skipped = f", {unchanged:,} already there" if unchanged else ""
    click.echo(f"{_records(added)} added, {replaced:,} replaced{skipped}; {_records(count)} in {db}")


def _records(n: int) -> str:
    return f"{n:,} record" + ("" if n == 1 else "s")


@index.command("import")
@click.argument("db", type=click.Path(path_type=Path))
@click.argument("vectors", type=click.Path(exists=True, path_type=Path))
@QUANTIZATION_OPTION
@click.option("--batch-size", default=5000, show_default=True, help="Rows per transaction.")
@clean_errors
def index_import(db, vectors, quantization, batch_size):
    """Bulk-load VECTORS (a Parquet file or folder from embed-file) into DB; run it again to resume."""
    from ..store import VectorStore

    with VectorStore(db, quantization=quantization) as store:
        added = store.import_parquet(vectors, batch_size=batch_size, progress=True)
        click.echo(f"{_records(added)} imported; {_records(store.count())} in {db}")


@index.command("search")
@click.argument("db", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("query")
@click.option("-k", default=10, show_default=True)
@click.option("--filter", "filter_json", default=None, help='JSON, e.g. \'{"lang": "en", "year": {"$gte": 2020}}\'.')
@click.option("--mode", type=click.Choice(["vector", "keyword", "hybrid"]), default="vector", show_default=True)
@MODEL_OPTION
@DEVICE_OPTION
@THREADS_OPTION
@JSON_OPTION
@clean_errors
def index_search(db, query, k, filter_json, mode, model, device, as_json):
    """Search DB for QUERY."""
    from ..store import VectorStore

    try:
        flt = json.loads(filter_json) if filter_json else None
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--filter is not valid JSON: {exc}") from None
    # without -m, a text query is embedded by the model the store records (VectorStore loads it by name)
    embedder = embedder_for(model, device) if model is not None and mode != "keyword" else None
    with VectorStore(db, read_only=True, embedder=embedder) as store:
        hits = store.search(query, k=k, filter=flt, mode=mode)
    if as_json:
        click.echo(
            json.dumps(
                [{"id": h.id, "score": h.score, "text": h.text, "metadata": h.metadata} for h in hits],
                ensure_ascii=False,
            )
        )
        return
    if not hits:
        click.echo("no matches")
        return
    # the scores of the three modes are not comparable: the column says which one this is
    label = {"vector": "cosine", "keyword": "bm25", "hybrid": "rrf"}[mode]
    width = min(max(len(h.id) for h in hits), 30)
    click.echo(f"  #  {label:>7}  {'id':<{width}}  text")
    for rank, h in enumerate(hits, 1):
        click.echo(f"{rank:>3}  {h.score:7.4f}  {short(h.id, width):<{width}}  {short(h.text or '', 72 - width)}")


@index.command("info")
@click.argument("db", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@JSON_OPTION
@clean_errors
def index_info(db, as_json):
    """Show a store's settings and size."""
    from ..store import VectorStore

    with VectorStore(db, read_only=True) as store:
        info = {
            "path": str(db),
            "count": store.count(),
            "dim": store.dim,
            "metric": store.metric,
            "quantization": store.quantization,
            "model": (store.model or {}).get("name"),
            "bytes": db.stat().st_size,
        }
    if as_json:
        click.echo(json.dumps(info))
        return
    for key, value in info.items():
        click.echo(f"{key:<13}{value}")
