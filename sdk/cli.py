"""The `embedlite` command line."""

from __future__ import annotations

import functools
import itertools
import json
import sys
from pathlib import Path

import click
import numpy as np

from .errors import EmbedliteError

MODEL_OPTION = click.option("--model", "-m", default=None,
                            help="Artifact dir, sentence-transformers dir, hub id or name (default: the embedded one).")
DEVICE_OPTION = click.option("--device", default="auto", show_default=True,
                             help="auto, cpu, cuda, coreml, directml, qnn, nnapi (ONNX); cpu, gpu, npu (LiteRT).")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def clean_errors(fn):
    """Turn embedlite's own errors and bad arguments into one-line CLI errors."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (EmbedliteError, ValueError, TypeError) as exc:
            raise click.ClickException(str(exc)) from None
    return wrapper


def _embedder(model, device, dim=None):
    from .embedder import Embedder

    return Embedder(model, device=device, dim=dim)


def _recorded_model(db) -> str | None:
    """The known model name a store records, if it exists and records one (else None: the default)."""
    from .models import known_names
    from .store import VectorStore

    if not Path(db).is_file():
        return None
    with VectorStore(db, read_only=True) as store:
        name = (store.model or {}).get("name")
    return name if name in known_names() else None


@click.group()
@click.version_option(package_name="embedlite")
def main():
    """embedlite: on-device text embeddings."""


@main.command()
@click.argument("texts", nargs=-1, required=True)
@MODEL_OPTION
@DEVICE_OPTION
@click.option("--dim", type=int, default=None, help="Matryoshka dim to truncate to.")
@click.option("--task", default=None, help="Task prompt name from the model's manifest (embedlite info lists them).")
@click.option("--query", "as_query", is_flag=True, help="Embed as search queries (the model's query prompt, if any).")
@click.option("--document", "as_document", is_flag=True,
              help="Embed as documents to search (the model's document prompt, if any).")
@JSON_OPTION
@clean_errors
def embed(texts, model, device, dim, task, as_query, as_document, as_json):
    """Embed TEXTS (use - to read one text per line from stdin)."""
    if sum([task is not None, as_query, as_document]) > 1:
        raise click.UsageError("give one of --task, --query, --document")
    if texts == ("-",):
        texts = tuple(line.rstrip("\n") for line in sys.stdin)
    embedder = _embedder(model, device)
    if as_query:
        vectors = embedder.embed_query(list(texts), dim=dim)
    elif as_document:
        vectors = embedder.embed_documents(list(texts), dim=dim)
    else:
        vectors = embedder.embed(list(texts), dim=dim, task=task)
    if as_json:
        click.echo(json.dumps([{"text": t, "embedding": [round(float(x), 7) for x in v]}
                               for t, v in zip(texts, vectors)]))
        return
    for text, vector in zip(texts, vectors):
        head = " ".join(f"{x:+.4f}" for x in vector[:6])
        click.echo(f"{_short(text, 40):<40}  dim={len(vector)}  [{head} ...]")


@main.command("embed-file")
@click.argument("source")
@click.option("--output", "-o", required=True, help="The Parquet file to write (with --ray: a folder of parts).")
@click.option("--id-field", default="id", show_default=True,
              help="Field or column of each record's id; records without one get their line or row number.")
@click.option("--text-field", default="text", show_default=True, help="Field or column of the text.")
@click.option("--dim", type=int, default=None, help="Matryoshka dim to truncate to.")
@click.option("--task", default=None, help="Task prompt name from the model's manifest.")
@click.option("--precision", type=click.Choice(["float32", "float16", "int8"]), default="float32", show_default=True,
              help="How the vectors are written (int8: per-row scale in a 'scale' column).")
@click.option("--no-text", is_flag=True, help="Leave the texts out of the output.")
@click.option("--window", default=4096, show_default=True,
              help="Texts read, tokenised and written together: memory and the resume step.")
@click.option("--batch-size", default=32, show_default=True)
@click.option("--ray", "ray_address", is_flag=False, flag_value="auto", default=None,
              help="Run on a Ray cluster: --ray (this machine's cluster, or a new local one) or --ray ADDRESS. "
                   "Reads and writes Parquet: local paths or URIs pyarrow reaches.")
@click.option("--workers", default=1, show_default=True, help="With --ray: embedding actors.")
@MODEL_OPTION
@DEVICE_OPTION
@JSON_OPTION
@clean_errors
def embed_file(source, output, id_field, text_field, dim, task, precision, no_text, window, batch_size,
               ray_address, workers, model, device, as_json):
    """Embed every record of SOURCE (JSONL, Parquet, CSV/TSV with a header, or plain lines) into a Parquet file
    of id, vector and text. Run it again after an interruption: it goes on from the last rows written."""
    options = {"id_column": id_field, "text_column": text_field, "dim": dim, "task": task, "precision": precision,
               "with_text": not no_text, "batch_size": batch_size, "window": window}
    if ray_address is not None:
        from .jobs.distributed import connect, embed_parquet

        connect(ray_address)
        written = embed_parquet(source, output, model, workers=workers, **options)
        info = {"path": written, "workers": workers}
    else:
        from .jobs.embed_file import embed_file as run

        result = run(_embedder(model, device, dim), Path(source), Path(output), id_field=id_field,
                     text_field=text_field, task=task, precision=precision, with_text=not no_text, window=window,
                     batch_size=batch_size, progress=not as_json)
        info = {"path": str(result.path), "rows": result.rows, "resumed_at": result.resumed_at}
    if as_json:
        click.echo(json.dumps(info))
    elif "rows" in info:
        resumed = f" (resumed after row {info['resumed_at']})" if info["resumed_at"] else ""
        click.echo(f"wrote {info['path']}: {info['rows']} rows{resumed}")
    else:
        click.echo(f"wrote {info['path']} ({workers} Ray workers)")


@main.command()
@click.argument("text_a")
@click.argument("text_b")
@MODEL_OPTION
@DEVICE_OPTION
@click.option("--dim", type=int, default=None, help="Matryoshka dim to truncate to.")
@JSON_OPTION
@clean_errors
def similarity(text_a, text_b, model, device, dim, as_json):
    """Cosine similarity of two texts."""
    a, b = _embedder(model, device).embed([text_a, text_b], dim=dim)
    score = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    click.echo(json.dumps({"similarity": score}) if as_json else f"{score:.4f}")


@main.command()
@click.argument("model")
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--format", "formats", default="onnx", show_default=True, help="Comma separated: onnx, tflite.")
@click.option("--precision", "precisions", default=None,
              help="Comma separated: fp32, fp16, int8 (speed), int8-accurate, int4 "
                   "(default fp32; int8 for --target android/ios).")
@click.option("--dims", default=None,
              help="Matryoshka dims, comma separated (default: full and 512/256/128/64 below it).")
@click.option("--output-dim", type=int, default=None, help="Fixed output dim, sliced and re-normalised in the graph.")
@click.option("--name", default=None, help="Model name for the manifest.")
@click.option("--eval-data", type=click.Path(path_type=Path), default=None,
              help="Folder with stsb/ and stsb-retrieval/: adds STS-B, nDCG@10 and speed to each report.")
@click.option("--target", type=click.Choice(["android", "ios"]), default=None,
              help="android, ios: one TFLite artifact (int8 unless --precision says) plus parity.json for the app.")
@click.option("--parity-texts", type=click.Path(exists=True, path_type=Path), default=None,
              help="Texts for parity.json (STS-B/SST-2 TSV, JSONL {text} or lines); default: built-in sentences.")
@JSON_OPTION
@clean_errors
def export(model, output, formats, precisions, dims, output_dim, name, eval_data, target, parity_texts, as_json):
    """Export a sentence-transformers MODEL (a directory, a hub id, or a known name: a shipped model such as
    embedlite-small, or all-MiniLM-L6-v2, all-mpnet-base-v2, paraphrase-MiniLM-L3-v2, embeddinggemma-300m) to
    embedlite artifacts."""
    from .errors import require

    require("torch", "export", "embedlite export")  # before the converters import it: one line, not a traceback
    from embedlite.converters import summary_table

    from . import export as run_export

    precisions = precisions or ("int8" if target else "fp32")
    if target:
        formats = "tflite"
        if len(_csv(precisions)) != 1:
            raise click.UsageError(f"--target {target} makes one artifact: give one --precision")
    results = run_export(model, output, formats=_csv(formats), precisions=_csv(precisions),
                         dims=tuple(int(d) for d in _csv(dims)) if dims else None, output_dim=output_dim,
                         name=name, eval_data=eval_data, progress=lambda msg: click.echo(msg, err=True))
    if target:
        from embedlite.converters.mobile_bundle import write_parity
        from embedlite.converters.parity import default_sentences

        from .files.records import distinct_texts, read_texts

        texts = distinct_texts(read_texts(parity_texts)) if parity_texts else default_sentences()
        app_assets = {"android": "android_demo/app/src/main/assets/embedlite/", "ios": "ios/DemoApp/embedlite/"}
        click.echo(f"wrote {write_parity(results[0].path, texts)} ({len(texts)} texts); copy {results[0].path} "
                   f"to {app_assets[target]}", err=True)
    if as_json:
        click.echo(json.dumps([{"path": str(r.path), **r.report} for r in results]))
        return
    click.echo(summary_table(results))
    for r in results:
        click.echo(f"{r.path}: {r.parity.line()}")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@main.command()
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="A TOML file of settings (DistillConfig field names); flags given here override it.")
@click.option("--teacher", type=click.Path(exists=True, path_type=Path), default=None,
              help="Teacher: a sentence-transformers directory.")
@click.option("--teacher-embeddings", type=click.Path(exists=True, path_type=Path), default=None,
              help="Teacher: a .npy of embeddings, one row per training text (from any model or API).")
@click.option("--data", "train_texts", multiple=True, type=click.Path(path_type=Path),
              help="Training texts: STS-B/SST-2 TSV, JSONL {text} or plain lines; repeatable.")
@click.option("--output", "-o", type=click.Path(path_type=Path))
@click.option("--student", type=click.Choice(["layers", "random", "decoder"]), default="layers", show_default=True)
@click.option("--layers", "student_layers", default="0,2,4", show_default=True,
              help="Teacher layers the student keeps.")
@click.option("--student-source", type=click.Path(path_type=Path), default=None,
              help="Gemma 3 LM directory for --student decoder.")
@click.option("--dims", "matryoshka_dims", default=None, help="Matryoshka dims, largest first, e.g. 384,256,128,64.")
@click.option("--max-texts", type=int, default=None)
@click.option("--epochs", default=1, show_default=True)
@click.option("--batch-size", default=64, show_default=True)
@click.option("--lr", "learning_rate", default=1e-4, show_default=True)
@click.option("--spread-out", "spread_out_weight", default=1.0, show_default=True, help="0 turns it off.")
@click.option("--qat", "qat_bits", type=click.Choice(["8", "4"]), default=None,
              help="Fake-quantize weights in the last part of training.")
@click.option("--max-seq-length", default=128, show_default=True)
@click.option("--seed", default=0, show_default=True)
@clean_errors
def distill(config_file, **flags):
    """Distil a compact student encoder from a teacher; the output is exportable as it is."""
    from .errors import require

    require("torch", "train", "Distillation")
    from click.core import ParameterSource

    from embedlite.training import DistillConfig, config_from_file
    from embedlite.training import distill as run_distill

    flags["student_layers"] = tuple(int(x) for x in _csv(flags["student_layers"]))
    flags["matryoshka_dims"] = tuple(int(x) for x in _csv(flags["matryoshka_dims"] or ""))
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


@main.command()
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path))
@clean_errors
def merge(checkpoints, output):
    """Average CHECKPOINTS (sentence-transformers directories of one architecture) into OUTPUT."""
    from embedlite.training import merge as run_merge

    click.echo(f"wrote {run_merge(list(checkpoints), output)}")


@main.command()
@click.argument("artifact")
@JSON_OPTION
@clean_errors
def info(artifact, as_json):
    """Show an artifact's manifest and check its files: ARTIFACT is a directory or a model name."""
    from embedlite.runtimes.cpu import int8_kernels

    from .artifact import MANIFEST, read_manifest
    from .models import SHIPPED, home, known_names, shipped_artifact, suggestion

    path = Path(artifact)
    if artifact in SHIPPED:
        path = shipped_artifact(artifact)
    elif artifact in known_names() and not (path / MANIFEST).is_file():
        path = home() / "models" / artifact
        if not (path / MANIFEST).is_file():
            raise EmbedliteError(f"{artifact} is known but not converted yet: it is fetched and converted on first "
                                 f"use (embedlite embed -m {artifact} x, with embedlite[export])")
    elif not path.exists():
        raise EmbedliteError(f"{artifact}: no such artifact directory{suggestion(artifact)}")
    manifest = read_manifest(path)
    if as_json:
        click.echo(json.dumps({**json.loads(manifest.to_json()), "cpu": int8_kernels()}))
        return
    size = sum(f["bytes"] for f in manifest.files.values())
    rows = [
        ("name", manifest.name), ("source", manifest.source_model),
        ("architecture", manifest.architecture), ("format", f"{manifest.format} / {manifest.precision}"),
        ("pooling", manifest.pooling + (" + normalize" if manifest.normalize else "")),
        ("dims", ", ".join(map(str, manifest.matryoshka_dims))),
        ("max length", manifest.max_seq_length),
        ("tasks", ", ".join(manifest.prompts) or "-"),
        ("license", manifest.license or "-"), ("size", f"{size / 1e6:.1f} MB"), ("checksums", "ok"),
        ("this cpu", int8_kernels()),  # which int8 kernels onnxruntime runs here (VNNI or not)
    ]
    for key, value in rows:
        click.echo(f"{key:<13}{value}")


@main.command("models")
@JSON_OPTION
@clean_errors
def models_command(as_json):
    """List the models known by name: the shipped default and those fetched and converted on first use."""
    from .models import catalog

    rows = catalog()
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(f"{'name':<26}{'dims':<18}{'license':<20}status")
    for row in rows:
        dims = ",".join(map(str, row["dims"])) if row["dims"] else "-"
        click.echo(f"{row['name']:<26}{dims:<18}{row['license']:<20}{row['status']}")


@main.group("eval")
def eval_group():
    """Evaluate a model on STS or a BEIR-format retrieval set."""


@eval_group.command("sts")
@click.argument("sts_file", type=click.Path(path_type=Path))
@MODEL_OPTION
@DEVICE_OPTION
@click.option("--dim", type=int, default=None, help="Matryoshka dim to truncate to.")
@JSON_OPTION
@clean_errors
def eval_sts(sts_file, model, device, dim, as_json):
    """Spearman of cosine vs gold on an STS Benchmark TSV (e.g. sts-test.csv)."""
    from .evaluation import load_sts, sts_spearman

    score = sts_spearman(_embedder(model, device, dim), load_sts(sts_file))
    click.echo(json.dumps({"spearman": score}) if as_json else f"STS Spearman: {score:.4f}")


@eval_group.command("retrieval")
@click.argument("beir_dir", type=click.Path(path_type=Path))
@MODEL_OPTION
@DEVICE_OPTION
@click.option("--dim", type=int, default=None, help="Matryoshka dim to truncate to.")
@click.option("--split", default="test", show_default=True)
@JSON_OPTION
@clean_errors
def eval_retrieval(beir_dir, model, device, dim, split, as_json):
    """nDCG@10 and Recall@100 on a BEIR-format directory."""
    from .evaluation import load_retrieval, retrieval_scores

    scores = retrieval_scores(_embedder(model, device, dim), load_retrieval(beir_dir, split))
    if as_json:
        click.echo(json.dumps(scores))
    else:
        for key, value in scores.items():
            click.echo(f"{key}: {value:.4f}")


def _short(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


@main.group()
def index():
    """A local vector store (one SQLite file): add, import, search, info."""


@index.command("add")
@click.argument("db", type=click.Path(path_type=Path))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@MODEL_OPTION
@DEVICE_OPTION
@click.option("--quantization", default=None, help="float32 (default), float16, int8 or binary; new stores only.")
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

    from .files.records import count_records, read_records
    from .store import VectorStore

    total = count_records(file)
    records = read_records(file, id_field, text_field)
    added = replaced = unchanged = 0
    with VectorStore(db, quantization=quantization, embedder=_embedder(model, device)) as store:
        with tqdm(total=total, unit="rec", desc="indexing", disable=None) as bar:
            while chunk := list(itertools.islice(records, batch_size)):
                new, changed = store.compare([r.id for r in chunk], [r.text for r in chunk],
                                             [r.metadata for r in chunk])
                if changed and not upsert:
                    ids = [chunk[n].id for n in changed]
                    raise EmbedliteError(f"{file}: {len(ids)} record(s) of this batch have ids already in {db} with "
                                         f"another text or metadata ({', '.join(ids[:3])}); pass --upsert to "
                                         "replace them, or give them other ids")
                todo = [chunk[n] for n in sorted(new + changed)]
                if todo:
                    store.upsert([r.id for r in todo], texts=[r.text for r in todo],
                                 metadata=[r.metadata for r in todo])
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
@click.option("--quantization", default=None, help="float32 (default), float16, int8 or binary; new stores only.")
@click.option("--batch-size", default=5000, show_default=True, help="Rows per transaction.")
@clean_errors
def index_import(db, vectors, quantization, batch_size):
    """Bulk-load VECTORS (a Parquet file or folder from embed-file) into DB; run it again to resume."""
    from .store import VectorStore

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
@JSON_OPTION
@clean_errors
def index_search(db, query, k, filter_json, mode, model, device, as_json):
    """Search DB for QUERY."""
    from .store import VectorStore

    try:
        flt = json.loads(filter_json) if filter_json else None
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--filter is not valid JSON: {exc}") from None
    # without -m, a text query is embedded by the model the store records (VectorStore loads it by name)
    embedder = _embedder(model, device) if model is not None and mode != "keyword" else None
    with VectorStore(db, read_only=True, embedder=embedder) as store:
        hits = store.search(query, k=k, filter=flt, mode=mode)
    if as_json:
        click.echo(json.dumps([{"id": h.id, "score": h.score, "text": h.text, "metadata": h.metadata}
                               for h in hits], ensure_ascii=False))
        return
    for rank, h in enumerate(hits, 1):
        click.echo(f"{rank:>3}. {h.score:7.4f}  {_short(h.id, 16):<16}  {_short(h.text or '', 52)}")


@index.command("info")
@click.argument("db", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@JSON_OPTION
@clean_errors
def index_info(db, as_json):
    """Show a store's settings and size."""
    from .store import VectorStore

    with VectorStore(db, read_only=True) as store:
        info = {"path": str(db), "count": store.count(), "dim": store.dim, "metric": store.metric,
                "quantization": store.quantization, "model": (store.model or {}).get("name"),
                "bytes": db.stat().st_size}
    if as_json:
        click.echo(json.dumps(info))
        return
    for key, value in info.items():
        click.echo(f"{key:<13}{value}")


@main.command()
@MODEL_OPTION
@DEVICE_OPTION
@click.option("--store", "stores", multiple=True,
              help="Serve a vector store: notes.db (named notes) or name=path; repeatable.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port (0: any free one).")
@click.option("--api-key", envvar="EMBEDLITE_API_KEY", default=None,
              help="Require 'Authorization: Bearer KEY' on every route but /health [env: EMBEDLITE_API_KEY].")
@click.option("--max-batch", default=32, show_default=True, help="Texts per batch of concurrent requests.")
@click.option("--max-queue", default=1024, show_default=True,
              help="Texts waiting or running; requests beyond it get 429 with Retry-After.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Model sessions that run a batch's calls side by side, each on its own thread; the cores are "
                   "split between them [default: one per core, at most 4; 1 on a GPU].")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds a request may wait (then 503).")
@click.option("--max-body-mb", default=16.0, show_default=True, help="Largest request body (then 413).")
@click.option("--batch-window-ms", default=1.0, show_default=True,
              help="How long the batcher waits for more texts when it has fewer than --max-batch.")
@click.option("--keep-alive", default=5.0, show_default=True,
              help="Seconds an idle connection stays open between requests.")
@click.option("--read-timeout", default=30.0, show_default=True,
              help="Seconds a request's headers, then its body, may take to arrive (then 408 and the connection "
                   "is closed).")
@click.option("--max-connections", default=1000, show_default=True,
              help="Open connections; at the limit idle ones are closed to make room, then new requests get 503.")
@click.option("--shutdown-grace", default=10.0, show_default=True,
              help="Seconds SIGTERM waits for the stores to close; then the server exits with status 1.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="warning",
              show_default=True, help="info: a line per request (method, path, status, texts, ms), never the texts.")
@clean_errors
def serve(stores, max_body_mb, batch_window_ms, log_level, **settings):
    """Serve embeddings over HTTP (OpenAI's /v1/embeddings, Ollama's /api/embed) and the stores given (needs
    embedlite[serve])."""
    import logging

    from .errors import require

    for module in ("starlette", "uvicorn"):
        require(module, "serve", "embedlite serve")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("embedlite")  # embedlite's own lines only, not every library's
    logger.addHandler(handler)
    logger.setLevel(log_level.upper())
    from .server.config import ServeConfig, parse_stores
    from .server.run import serve as run_server

    parsed = parse_stores(stores)
    if settings.get("model") is None and parsed:  # serve the model the first store was made with
        settings["model"] = _recorded_model(parsed[0][1])
    run_server(ServeConfig(stores=parsed, max_body_bytes=int(max_body_mb * 2**20),
                           batch_window=batch_window_ms / 1000, **settings))
