"""Bulk-load a vector file written by `embedlite embed-file` into a VectorStore, resumable.

Each transaction writes a batch of rows and, in the same step, a marker under the settings key
`import:<absolute path>` saying how many rows of the file are in (with the file's row and byte counts, so a
changed file is not resumed as if it were the same); the marker is removed when the import ends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import EmbedliteError

if TYPE_CHECKING:
    from ..files.vectors import VectorFile
    from .vector_store import VectorStore


def import_parquet(store: VectorStore, path: str | Path, batch_size: int = 5000, progress: bool = False) -> int:
    """See VectorStore.import_parquet."""
    from tqdm.auto import tqdm

    from ..files.vectors import open_vector_file

    store._check_writable()
    source = open_vector_file(path)
    _check_import(store, source)
    key = f"import:{source.path.resolve()}"
    size = {"rows": source.rows, "bytes": sum(p.stat().st_size for p in source.parts)}
    row = store._conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    done = 0
    if row is not None:
        before = json.loads(row[0])
        if {k: before.get(k) for k in size} != size:
            raise EmbedliteError(
                f"{store.path} holds a partial import of {source.path} ({before['done']} rows), "
                "but the file has changed since; import it under another name"
            )
        done = before["done"]
    added = 0
    with tqdm(
        total=source.rows, initial=done, unit="row", desc="importing", disable=None if progress else True
    ) as bar:  # None: shown on a terminal only
        for ids, vectors, texts in source.batches(batch_size, skip=done):
            try:
                # rows already stored as given (a rerun of a finished import) are skipped
                new, changed = store.compare(ids, texts if texts is not None else [None] * len(ids))
                if changed:
                    raise ValueError(f"ids already in the store with another text: {[ids[n] for n in changed][:5]}")
                rows = store._prepared(
                    [ids[n] for n in new],
                    np.asarray(vectors)[new],
                    None if texts is None else [texts[n] for n in new],
                    None,
                    skip_stored=False,
                )
                assert rows is not None  # only skip_stored leaves nothing to write
                with store._transaction():  # the rows and how far the import got, in one step
                    store._insert(*rows, upsert=False)
                    store._conn.execute(
                        "INSERT OR REPLACE INTO settings VALUES (?, ?)",
                        (key, json.dumps({**size, "done": done + len(ids)})),
                    )
                store._matrix_cache.stale = True
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{source.path}, rows {done}-{done + len(ids) - 1}: {exc}") from None
            done += len(ids)
            added += len(new)
            bar.update(len(ids))
    with store._transaction():
        store._conn.execute("DELETE FROM settings WHERE key = ?", (key,))
    if store.ann_threshold is not None and store.count() > store.ann_threshold:
        store._ann_index()  # builds (or brings up to date) and saves the index now, not on the first search
    return added


def _check_import(store: VectorStore, source: VectorFile) -> None:
    """Refuse a vector file whose dim or model differs from the store's; an empty store takes its model."""
    from .vector_store import _show

    if source.model is not None and source.model.get("dim") != source.dim:
        raise EmbedliteError(
            f"{source.path}: its metadata says dim {source.model.get('dim')}, its vectors have dim {source.dim}"
        )
    if store.dim is not None and store.dim != source.dim:
        raise EmbedliteError(f"{source.path} holds vectors of dim {source.dim}; {store.path} holds dim {store.dim}")
    if store.model is not None and source.model != store.model:
        made = _show(source.model) if source.model else "a model it does not name"
        raise EmbedliteError(f"{source.path} holds vectors of {made}; {store.path} was built with {_show(store.model)}")
    if store.model is None and source.model is not None and store.count() == 0:
        with store._transaction():
            store._conn.execute("INSERT OR REPLACE INTO settings VALUES ('model', ?)", (json.dumps(source.model),))
        store._settings["model"] = source.model
