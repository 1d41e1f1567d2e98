"""Embedding on a Ray cluster (`pip install 'embedlite[ray]'`): `embed_dataset` maps a Ray Dataset of texts to
rows of vectors, and `embed_parquet` is the Parquet-to-Parquet job behind `embedlite embed-file --ray`.

Each worker is an actor of Ray Data's actor pool that loads the model once, with as many onnxruntime threads as
the CPUs it stands for. The rows have the schema of embed-file's vector files, and the vectors are the bits
`Embedder.embed` gives (see Embedder._embed). Every node needs embedlite and the model: give `model` as a
name the nodes resolve alike (the default, a known source name) or a path on storage they share.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np

from ..embedder import Embedder
from ..errors import EmbedliteError, require
from ..files.vectors import model_record, vector_schema, vector_table

WORKER_ERROR = re.compile(r"(?:\w+\.)*(\w+(?:Error|Exception)): (.*)")  # a traceback's last line
IO_CPUS = 0.25  # what Ray reserves for each read and write task (they are light next to embedding)


class EmbedBatches:
    """Ray Data callable class: one Embedder per actor; a pyarrow batch of (id, text) rows -> vector rows."""

    def __init__(
        self,
        model: str | None,
        dim: int | None,
        task: str | None,
        precision: str,
        with_text: bool,
        id_column: str,
        text_column: str,
        threads: int,
        batch_size: int,
    ):
        self.embedder = Embedder(model, dim=dim, threads=threads)
        self.schema = vector_schema(model_record(self.embedder), precision, task, with_text)
        self.task, self.batch_size = task, batch_size
        self.id_column, self.text_column = id_column, text_column

    def __call__(self, batch):
        texts = batch.column(self.text_column).to_pylist()
        ids = [str(i) for i in batch.column(self.id_column).to_pylist()]
        bad = next((i for i, text in enumerate(texts) if not isinstance(text, str)), None)
        if bad is not None:
            raise EmbedliteError(
                f"the row with id {ids[bad]!r} has {type(texts[bad]).__name__} in column "
                f"{self.text_column!r}, not a string"
            )
        chunks = [
            v
            for _, v in self.embedder.embed_stream(
                texts, task=self.task, batch_size=self.batch_size, window=max(len(texts), 1)
            )
        ]
        vectors = np.concatenate(chunks) if chunks else np.empty((0, self.embedder.dim), dtype=np.float32)
        return vector_table(self.schema, ids, vectors, texts if "text" in self.schema.names else None)


def connect(address: str = "auto") -> None:
    """Join a Ray cluster unless this process already has: "auto" finds this machine's cluster (`ray start`)
    or starts a local one; anything else is a cluster address (host:port or ray://host:port)."""
    ray = require("ray", "ray", "Embedding on a Ray cluster")
    if not ray.is_initialized():
        ray.init(address=None if address == "auto" else address, logging_level="WARNING")


def embed_dataset(
    ds,
    model: str | Path | None = None,
    *,
    id_column: str = "id",
    text_column: str = "text",
    dim: int | None = None,
    task: str | None = None,
    precision: str = "float32",
    with_text: bool = True,
    workers: int = 1,
    num_cpus: float = 1.0,
    threads: int | None = None,
    batch_size: int = 32,
    window: int = 1024,
):
    """A Ray Dataset of (id, vector[, scale][, text]) rows embedding `ds`'s `text_column`, computed lazily by
    `workers` actors that each reserve `num_cpus` CPUs and run `threads` onnxruntime threads (default: num_cpus,
    at least 1) over batches of `window` rows.

    Ray starts the actors before the read tasks (ray-project/ray#44687): if the actors reserve every CPU of the
    cluster the dataset never starts, so leave Ray some, as embed_parquet does."""
    ray = require("ray", "ray", "Embedding on a Ray cluster")
    probe = Embedder(model, dim=dim)  # fails here, in the driver, on a bad model, dim or task
    probe.embed_stream([], task=task, batch_size=batch_size, window=window)
    vector_schema(model_record(probe), precision, task, with_text)
    names = ds.schema().names
    missing = [c for c in (id_column, text_column) if c not in names]
    if missing:
        raise EmbedliteError(
            f"the dataset has no column {', '.join(map(repr, missing))} (columns: "
            f"{', '.join(names)}); name them with id_column and text_column "
            "(--id-field, --text-field)"
        )
    _check_workers(workers)
    if not num_cpus > 0:
        raise ValueError(f"num_cpus must be positive, got {num_cpus!r}")
    # a file is one block to Ray's reader: blocks of `window` rows let every worker take some
    ds = ds.select_columns([id_column, text_column]).repartition(target_num_rows_per_block=window)
    return ds.map_batches(
        EmbedBatches,
        fn_constructor_kwargs={
            "model": None if model is None else str(model),
            "dim": dim,
            "task": task,
            "precision": precision,
            "with_text": with_text,
            "id_column": id_column,
            "text_column": text_column,
            "threads": threads or max(1, round(num_cpus)),
            "batch_size": batch_size,
        },
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=num_cpus,
        batch_size=window,
        batch_format="pyarrow",
        udf_modifying_row_count=False,
    )


def embed_parquet(
    source: str | Path,
    output: str | Path,
    model: str | Path | None = None,
    *,
    workers: int = 1,
    num_cpus: float | None = None,
    threads: int | None = None,
    id_column: str = "id",
    text_column: str = "text",
    **options,
) -> str:
    """Read Parquet at `source`, embed it on the connected Ray cluster and write a folder of Parquet parts at
    `output` (local paths, or any URI pyarrow's filesystems reach); returns the output's location.

    By default each worker reserves (cluster CPUs - 1) / workers, leaving one CPU to Ray's read and write tasks,
    and runs cluster CPUs // workers onnxruntime threads."""
    ray = require("ray", "ray", "Embedding on a Ray cluster")
    source, output = _location(source), _location(output)
    if "://" not in output and Path(output).exists():
        raise EmbedliteError(f"{output} already exists: remove it or choose another output")
    _check_workers(workers)
    cpus = ray.cluster_resources().get("CPU", 1.0)
    if num_cpus is None:
        num_cpus = max(cpus - 1, 0.5) / workers
    if threads is None:
        threads = max(1, int(cpus // workers))
    ds = ray.data.read_parquet(source, num_cpus=IO_CPUS)  # embed_dataset's column selection is pushed into the read
    embedded = embed_dataset(
        ds,
        model,
        id_column=id_column,
        text_column=text_column,
        workers=workers,
        num_cpus=num_cpus,
        threads=threads,
        **options,
    )
    local = "://" not in output
    target = output + ".partial" if local else output  # a local output appears whole, or not at all
    if local:
        shutil.rmtree(target, ignore_errors=True)  # left by a run that was killed
    try:
        embedded.write_parquet(target, ray_remote_args={"num_cpus": IO_CPUS})
    except ray.exceptions.RayError as exc:
        if local:
            shutil.rmtree(target, ignore_errors=True)
        raise EmbedliteError(f"the Ray job stopped: {_worker_error(exc)}") from None
    if local:
        os.replace(target, output)
    return output


def _check_workers(workers) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")


def _worker_error(exc: BaseException) -> str:
    """The worker's own error, from the worker traceback Ray puts in its exception's text (Ray keeps no cause)."""
    lines = [m for line in str(exc).splitlines() if (m := WORKER_ERROR.match(line)) and not line.startswith("ray.")]
    return f"{lines[-1][1]}: {lines[-1][2]}" if lines else str(exc).splitlines()[0]


def _location(path: str | Path) -> str:
    """A URI as it is; a local path made absolute (Ray's workers do not share the driver's working directory)."""
    return str(path) if "://" in str(path) else str(Path(path).resolve())
