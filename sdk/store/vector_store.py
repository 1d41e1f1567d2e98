"""VectorStore: a local, crash-safe vector store in one SQLite file, with filters and hybrid search."""

from __future__ import annotations

import json
import os
import sqlite3
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from ..errors import EmbedliteError, MissingDependencyError, ReadOnlyStoreError
from ..files import codec
from ..files.vectors import model_record
from ..protocols import StoreEmbedder
from .filters import INT64, to_sql
from .index import EXPANSION_SEARCH, LOG_SCHEMA, AnnIndex
from .matrix import MatrixCache, VectorMatrix

FORMAT_VERSION = 1
RRF_K = 60  # reciprocal rank fusion constant, as in Cormack et al. (2009)
MODES = ("vector", "keyword", "hybrid")
ANN_THRESHOLD = 100_000  # above this many records, vector search goes through the HNSW index
OVERFETCH = 4  # ANN candidates per result asked for; they are re-scored exactly
SELECTIVE_FILTER = 0.05  # a filter that keeps fewer rows than this share is searched exactly
MAX_KEYWORD_TERMS = 256  # distinct terms of one keyword (or hybrid) query
# characters of a keyword (or hybrid) query, checked before it is split into terms: splitting 600 KB of one repeated
# term took ~50 ms of Python, and a server under a stream of them kept its event loop waiting for the GIL
# (/health p99 over 300 ms in benchmarks/bench_abuse.py)
MAX_KEYWORD_CHARS = 65_536

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, text TEXT, metadata TEXT, vector BLOB NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5(text, content='records', content_rowid='rowid');
CREATE TRIGGER IF NOT EXISTS records_ai AFTER INSERT ON records BEGIN
    INSERT INTO records_fts(rowid, text) VALUES (new.rowid, new.text); END;
CREATE TRIGGER IF NOT EXISTS records_ad AFTER DELETE ON records BEGIN
    INSERT INTO records_fts(records_fts, rowid, text) VALUES ('delete', old.rowid, old.text); END;
CREATE TRIGGER IF NOT EXISTS records_au AFTER UPDATE ON records BEGIN
    INSERT INTO records_fts(records_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO records_fts(rowid, text) VALUES (new.rowid, new.text); END;
"""


@dataclass(frozen=True)
class Record:
    """A stored record, as get() returns it."""

    id: str
    text: str | None
    metadata: dict | None
    vector: np.ndarray


@dataclass(frozen=True)
class SearchResult:
    """One hit of search(); score: cosine (exact or HNSW), RRF (hybrid) or BM25 (keyword), higher is nearer."""

    id: str
    score: float
    text: str | None
    metadata: dict | None


class VectorStore:
    """Vectors, texts and JSON metadata under string ids in one SQLite file (WAL, one transaction per write).

    With an `embedder` (an Embedder or a model name/path), texts are embedded on add and queries may be text;
    the model's name and dim are recorded, and opening the file with another model is refused.
    Above `ann_threshold` records, vector search uses an HNSW index kept in `<path>.hnsw` (None: always exact);
    `ann_expansion` is its search breadth (HNSW's ef): more recalls more and takes longer.
    """

    def __init__(
        self,
        path: str | Path,
        dim: int | None = None,
        metric: str | None = None,
        quantization: str | None = None,
        embedder: StoreEmbedder | str | Path | None = None,
        read_only: bool = False,
        ann_threshold: int | None = ANN_THRESHOLD,
        ann_expansion: int = EXPANSION_SEARCH,
    ):
        self.path = Path(path)
        if not isinstance(ann_expansion, int) or isinstance(ann_expansion, bool) or ann_expansion < 1:
            raise ValueError(f"ann_expansion must be a positive integer, got {ann_expansion!r}")
        self.ann_threshold, self.ann_expansion = ann_threshold, ann_expansion
        if embedder is not None and not hasattr(embedder, "embed_documents"):
            from ..embedder import Embedder

            embedder = Embedder(embedder)
        self.embedder = cast("StoreEmbedder | None", embedder)  # mypy does not narrow a union through hasattr
        exists = self.path.exists()
        # SQLite writes beside the file (-wal, -shm): a folder it cannot write is read-only media for it
        cannot_write = exists and not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK))
        self.read_only = read_only or cannot_write
        self._read_only_why = "" if read_only or not cannot_write else " (its file or folder cannot be written)"
        if self.read_only and not exists:
            raise EmbedliteError(f"{self.path} does not exist; a read-only store must open an existing file")
        self._conn = self._connect()
        self._settings = self._load_settings(dim, metric, quantization)
        self._matrix_cache = MatrixCache()  # every vector in memory, for exact search
        self._ann: AnnIndex | None = None
        self._ann_synced = -1  # the matrix update the index was last synced at

    # -- opening -------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            if self.read_only:
                conn = self._connect_read_only()
            else:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss too
            conn.execute("PRAGMA busy_timeout=10000")
            if not self.read_only:
                conn.executescript(SCHEMA + LOG_SCHEMA)
            conn.execute("SELECT count(*) FROM settings").fetchone()
        except sqlite3.DatabaseError as exc:
            raise EmbedliteError(f"{self.path} is not a usable embedlite store: {exc}") from None
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """mode=ro; on read-only media, where SQLite cannot create the WAL's -shm beside the file, immutable=1
        (nothing can change the file there, so nothing needs the lock it would take)."""
        uri = self.path.resolve().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
            conn.execute("SELECT count(*) FROM settings").fetchone()
            return conn
        except sqlite3.OperationalError:
            if os.access(self.path.parent, os.W_OK):
                raise
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size:
            warnings.warn(
                f"{wal} holds writes not yet in {self.path}, and read-only media cannot take them in: "
                "they are not read (open the store once where it can be written to fold them in)",
                stacklevel=4,
            )
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None, check_same_thread=False)

    def _load_settings(self, dim, metric, quantization) -> dict:
        stored = {k: json.loads(v) for k, v in self._conn.execute("SELECT key, value FROM settings")}
        if stored.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
            raise EmbedliteError(
                f"{self.path} has store format {stored['format_version']}; this embedlite reads {FORMAT_VERSION}"
            )
        if metric is not None and metric not in codec.METRICS:
            raise ValueError(f"metric {metric!r}: choose one of {', '.join(codec.METRICS)}")
        if quantization is not None and quantization not in codec.QUANTIZATIONS:
            raise ValueError(f"quantization {quantization!r}: choose one of {', '.join(codec.QUANTIZATIONS)}")
        model = None
        if self.embedder is not None:
            model = model_record(self.embedder)
            if dim is not None and dim != model["dim"]:
                raise ValueError(f"dim {dim} differs from the embedder's dim {model['dim']}")
            dim = model["dim"]
        wanted = {"dim": dim, "metric": metric, "quantization": quantization, "model": model}
        for key, value in wanted.items():
            have = stored.get(key)
            if value is not None and have is not None and value != have:
                what = "model" if key == "model" else key
                raise EmbedliteError(
                    f"{self.path} was built with {what} {_show(have)}; it cannot be opened with {what} {_show(value)}"
                )
        settings = {
            "format_version": FORMAT_VERSION,
            "dim": None,
            "metric": "cosine",
            "quantization": "float32",
            "model": None,
        }
        settings.update(stored)
        settings.update({k: v for k, v in wanted.items() if v is not None and stored.get(k) is None})
        if settings != stored and not self.read_only:
            with self._transaction():
                self._conn.executemany(
                    "INSERT OR REPLACE INTO settings VALUES (?, ?)", [(k, json.dumps(v)) for k, v in settings.items()]
                )
        return settings

    # -- properties ----------------------------------------------------------------------------------
    @property
    def dim(self) -> int | None:
        """The vectors' dim (None until the first write sets it)."""
        return self._settings["dim"]

    @property
    def metric(self) -> str:
        """How search compares vectors (one of codec.METRICS)."""
        return self._settings["metric"]

    @property
    def quantization(self) -> str:
        """How vectors are stored (one of codec.QUANTIZATIONS)."""
        return self._settings["quantization"]

    @property
    def model(self) -> dict | None:
        """The model this store was made with (name, dim, prompts), None if it records none."""
        return self._settings["model"]

    def _text_embedder(self, what: str) -> StoreEmbedder:
        """The embedder given, else the model this store records (by its name, at its dim), loaded once."""
        if self.embedder is None:
            recorded = self.model
            from ..models import known_names

            if recorded is None or recorded.get("name") not in known_names():
                made = f"was made with {recorded['name']!r}" if recorded else "records no model"
                raise EmbedliteError(
                    f"{what} need an embedder: {self.path} {made}; open it with "
                    "embedder=... (a model name or artifact directory), or pass vectors"
                )
            from ..embedder import Embedder

            embedder = Embedder(recorded["name"], dim=recorded["dim"])
            if model_record(embedder) != recorded:
                raise EmbedliteError(
                    f"{self.path} was made with {_show(recorded)}; the model of that name here is "
                    f"{_show(model_record(embedder))}: open it with embedder=<the model it was "
                    "made with>"
                )
            self.embedder = embedder
        return self.embedder

    def _records_dim(self) -> int:
        """The dim, where records exist: the first write sets it."""
        if self.dim is None:
            raise EmbedliteError(f"{self.path} holds records but no dim setting")
        return self.dim

    def count(self) -> int:
        """The number of records."""
        return self._conn.execute("SELECT count(*) FROM records").fetchone()[0]

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        return (
            f"VectorStore({str(self.path)!r}, dim={self.dim}, metric={self.metric!r}, "
            f"quantization={self.quantization!r}, count={self.count()})"
        )

    # -- writing -------------------------------------------------------------------------------------
    def add(
        self,
        ids: Sequence[str],
        vectors=None,
        texts: Sequence[str] | None = None,
        metadata: Sequence[dict | None] | None = None,
    ) -> int:
        """Insert new records in one transaction; returns how many were written.

        A record already stored exactly as given (same text and metadata, and the same vector where vectors are
        given) is skipped, so an add retried after a timeout or a lost reply succeeds; an id stored with anything
        else is an error and nothing is written."""
        return self._write(ids, vectors, texts, metadata, upsert=False)

    def upsert(
        self,
        ids: Sequence[str],
        vectors=None,
        texts: Sequence[str] | None = None,
        metadata: Sequence[dict | None] | None = None,
    ) -> int:
        """Insert or replace records in one transaction."""
        return self._write(ids, vectors, texts, metadata, upsert=True)

    def delete(self, ids: Sequence[str]) -> int:
        """Delete records by id in one transaction; returns how many existed."""
        ids = _check_ids(ids)
        self._check_writable()
        with self._transaction():
            deleted = sum(self._conn.execute("DELETE FROM records WHERE id = ?", (i,)).rowcount for i in ids)
        self._matrix_cache.stale = True
        return deleted

    def _write(self, ids, vectors, texts, metadata, upsert: bool) -> int:
        """Validate, encode and write in one transaction."""
        prepared = self._prepared(ids, vectors, texts, metadata, skip_stored=not upsert)
        if prepared is None:
            return 0
        with self._transaction():
            self._insert(*prepared, upsert=upsert)
        self._matrix_cache.stale = True
        return len(prepared[0])

    def _prepared(self, ids, vectors, texts, metadata, skip_stored: bool) -> tuple[list[tuple], np.ndarray] | None:
        """The rows to insert, validated and encoded, and their vectors; None where every record is already stored
        as given (with `skip_stored`: an add retried after a lost reply)."""
        self._check_writable()
        ids = _check_ids(ids)
        if len(set(ids)) != len(ids):  # Counter: ids.count per id was quadratic (a minute for a 450 KB request)
            dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
            raise ValueError(f"ids repeat within the batch: {dupes[:5]}")
        if texts is not None:
            from ..embedder import check_texts

            texts = check_texts(texts)
            _same_length("texts", texts, ids)
        meta = [None] * len(ids) if metadata is None else list(metadata)
        _same_length("metadata", meta, ids)
        meta_json = [_metadata_json(m, i) for i, m in enumerate(meta)]
        if vectors is not None:
            vectors = self._prepare(vectors, ids)
        if skip_stored:
            keep = self._not_stored(ids, texts, meta_json, vectors)
            if len(keep) < len(ids):
                ids, meta_json = [ids[n] for n in keep], [meta_json[n] for n in keep]
                texts = None if texts is None else [texts[n] for n in keep]
                vectors = None if vectors is None else vectors[keep]
                if not ids:
                    return None
        if vectors is None:
            if texts is None:
                raise ValueError("give vectors, or texts with an embedder bound to the store")
            vectors = self._prepare(self._text_embedder("texts").embed_documents(texts), ids)
        rows = [
            (i, t, m, codec.encode(v, self.quantization))
            for i, t, m, v in zip(ids, texts or [None] * len(ids), meta_json, vectors)
        ]
        return rows, vectors

    def _insert(self, rows: list[tuple], vectors: np.ndarray, upsert: bool) -> None:
        """Write prepared rows; inside a transaction (the first write also records the dim)."""
        if self.dim is None:
            self._settings["dim"] = int(vectors.shape[1])
            self._conn.execute("INSERT OR REPLACE INTO settings VALUES ('dim', ?)", (json.dumps(self.dim),))
        if upsert:
            self._conn.executemany(
                "INSERT INTO records (id, text, metadata, vector) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO "
                "UPDATE SET text = excluded.text, metadata = excluded.metadata, vector = excluded.vector",
                rows,
            )
        else:
            taken = self._existing([r[0] for r in rows])
            if taken:
                raise ValueError(f"ids already in the store: {taken[:5]}; use upsert to replace them")
            self._conn.executemany("INSERT INTO records (id, text, metadata, vector) VALUES (?, ?, ?, ?)", rows)

    # -- bulk load -----------------------------------------------------------------------------------
    def import_parquet(self, path: str | Path, batch_size: int = 5000, progress: bool = False) -> int:
        """Add the rows of a vector file written by `embedlite embed-file` (a Parquet file, or a folder of parts
        as Ray writes them) in transactions of `batch_size` rows; returns how many this call added.

        A file of another dim or model is refused before anything is written. Each transaction also records how
        far the import got, so an interrupted import resumes there when run again. Above `ann_threshold` records
        the HNSW index is built once, at the end. Rows whose id is stored with the same text are skipped, so a
        finished import can be run again."""
        from .parquet_import import import_parquet

        return import_parquet(self, path, batch_size, progress)

    def compare(
        self, ids: Sequence[str], texts: Sequence[str | None], metadata: Sequence[dict | None] | None = None
    ) -> tuple[list[int], list[int]]:
        """Which of these records the store lacks, and which it holds under the same id with another text or
        metadata, as positions in `ids`; the others are already stored as given (a rerun can skip them)."""
        ids = _check_ids(ids)
        meta = [None] * len(ids) if metadata is None else list(metadata)
        stored = {
            r[0]: (r[1], (json.loads(r[2]) if r[2] else None) or None) for r in self._rows_of("id, text, metadata", ids)
        }
        new = [n for n, i in enumerate(ids) if i not in stored]
        changed = [n for n, i in enumerate(ids) if i in stored and stored[i] != (texts[n], meta[n] or None)]
        return new, changed

    def _prepare(self, vectors, ids: list[str]) -> np.ndarray:
        """Checked vectors, one per id, as this store keeps them (unit length for cosine, within float16)."""
        vectors = codec.check_vectors(vectors, self.dim)
        _same_length("vectors", vectors, ids)
        vectors = codec.prepare(vectors, self.metric)
        if self.quantization == "float16" and len(vectors) and np.abs(vectors).max() > np.finfo(np.float16).max:
            raise ValueError(
                f"vectors hold components beyond float16's range (±65504), which this store keeps: "
                f"{float(np.abs(vectors).max()):.3g}"
            )
        return vectors

    def _not_stored(
        self, ids: list[str], texts: list[str] | None, meta_json: list[str | None], vectors: np.ndarray | None
    ) -> list[int]:
        """Positions of the records to add: those whose id is not stored. One stored as given (text, metadata and,
        where given, the vector as this store encodes it) is left out; one stored otherwise is a ValueError."""
        stored = {r[0]: r[1:] for r in self._rows_of("id, text, metadata, vector", ids)}
        if not stored:
            return list(range(len(ids)))
        keep, changed = [], []
        for n, i in enumerate(ids):
            if i not in stored:
                keep.append(n)
                continue
            text, meta, blob = stored[i]
            same = (
                text == (None if texts is None else texts[n])
                and _loads(meta) == _loads(meta_json[n])
                and (vectors is None or blob == codec.encode(vectors[n], self.quantization))
            )
            if not same:
                changed.append(i)
        if changed:
            raise ValueError(
                f"ids already in the store: {changed[:5]} with another text, metadata or vector; "
                "use upsert to replace them"
            )
        return keep

    def _existing(self, ids: list[str]) -> list[str]:
        return [r[0] for r in self._rows_of("id", ids)]

    def _rows_of(self, columns: str, ids: list[str]) -> Iterator[tuple]:
        """`columns` of the records with these ids, 500 ids per query (SQLite's bound on parameters)."""
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            yield from self._conn.execute(
                f"SELECT {columns} FROM records WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )

    def _transaction(self):
        return _Transaction(self._conn)

    def _check_writable(self):
        if self.read_only:
            raise ReadOnlyStoreError(f"{self.path} is open read-only{self._read_only_why}")

    # -- reading -------------------------------------------------------------------------------------
    def get(self, ids: Sequence[str]) -> list[Record | None]:
        """Records by id, in the order asked; None where an id is absent."""
        ids = _check_ids(ids)
        out: list[Record | None] = []
        for i in ids:
            row = self._conn.execute("SELECT id, text, metadata, vector FROM records WHERE id = ?", (i,)).fetchone()
            if row is None:
                out.append(None)
                continue
            dim = self._records_dim()
            vector = codec.decode_matrix([row[3]], dim, self.quantization)[0]
            if self.quantization == "binary":
                vector = np.unpackbits(vector)[:dim].astype(np.float32) * 2 - 1
            out.append(Record(row[0], row[1], json.loads(row[2]) if row[2] else None, vector))
        return out

    def search(
        self, query, k: int = 10, filter: dict | None = None, mode: str = "vector", exact: bool = False
    ) -> list[SearchResult]:
        """Top k records for a query vector or text; mode 'vector', 'keyword' (BM25) or 'hybrid' (RRF of both).
        exact=True skips the HNSW index."""
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: choose one of {', '.join(MODES)}")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if mode != "vector":
            if not isinstance(query, str):
                raise ValueError(f"mode {mode!r} needs a text query")
            if len(query) > MAX_KEYWORD_CHARS:
                raise ValueError(f"a {mode} query of {len(query):,} characters; at most {MAX_KEYWORD_CHARS:,}")
        condition, params = to_sql(filter)
        if mode == "keyword":
            return self._results(self._keyword(query, k, condition, params))
        vector_hits = self._vector(
            self._query_vector(query), k if mode == "vector" else max(4 * k, 50), condition, params, exact
        )
        if mode == "vector":
            return self._results(vector_hits)
        keyword_hits = self._keyword(query, max(4 * k, 50), condition, params)
        fused: dict[int, float] = {}
        for hits in (vector_hits, keyword_hits):
            for rank, (rowid, _) in enumerate(hits):
                fused[rowid] = fused.get(rowid, 0.0) + 1.0 / (RRF_K + rank + 1)
        return self._results(sorted(fused.items(), key=lambda kv: -kv[1])[:k])

    def _query_vector(self, query) -> np.ndarray:
        if isinstance(query, str):
            query = self._text_embedder("a text query").embed_query([query])
        if self.dim is None:
            raise EmbedliteError("the store is empty and has no dim yet")
        vectors = codec.check_vectors(query, self.dim)
        if len(vectors) != 1:  # searching with the first and dropping the others answered a question not asked
            raise ValueError(f"a query is one vector; this one holds {len(vectors)} (search them one at a time)")
        return codec.prepare(vectors, self.metric)[0]

    def _vector(self, query: np.ndarray, k: int, condition: str, params: list, exact: bool) -> list[tuple[int, float]]:
        matrix = self._matrix_cache.current(self._conn, self.dim or 0, self.metric, self.quantization)
        allowed = None
        if condition != "1":
            allowed = np.fromiter(
                (r[0] for r in self._conn.execute(f"SELECT rowid FROM records WHERE {condition}", params)),
                dtype=np.int64,
            )
        slots = None if exact else self._ann_slots(query, k, matrix, allowed)
        if slots is None and allowed is not None:
            slots = matrix.slots_of(allowed)
        best, scores = matrix.top(query, k, slots)
        return [(int(r), float(score)) for r, score in zip(matrix.rowids(best), scores)]

    def _ann_slots(self, query: np.ndarray, k: int, matrix: VectorMatrix, allowed) -> np.ndarray | None:
        """Matrix rows of the HNSW candidates, or None where exact search is due: a small store, a selective
        filter, no index, or too few candidates passing the filter (never fewer than k results that exist)."""
        if self.ann_threshold is None or matrix.count <= self.ann_threshold:
            return None
        share = 1.0 if allowed is None else len(allowed) / matrix.count
        if share < SELECTIVE_FILTER or (ann := self._ann_index()) is None:
            return None
        candidates = ann.candidates(query, int(OVERFETCH * max(k, 16) / share), self.ann_expansion)
        if allowed is not None:
            candidates = candidates[np.isin(candidates, allowed)]
        slots = matrix.slots_of(candidates)
        return slots if len(slots) >= min(k, matrix.count if allowed is None else len(allowed)) else None

    def _ann_index(self) -> AnnIndex | None:
        if self._ann is None:
            try:
                self._ann = AnnIndex(self.path, self._records_dim(), self.metric, self.quantization, not self.read_only)
            except MissingDependencyError as exc:
                warnings.warn(f"exact search over {self.count()} vectors: {exc}", stacklevel=4)
                self.ann_threshold = None
                return None
        if self._ann_synced != self._matrix_cache.updates:
            try:
                self._ann.sync(self._conn)
            except sqlite3.OperationalError as exc:  # a read-only file written before the change log existed
                warnings.warn(
                    f"exact search: the HNSW index cannot be kept in sync with {self.path}: {exc}", stacklevel=4
                )
                self.ann_threshold, self._ann = None, None
                return None
            self._ann_synced = self._matrix_cache.updates
        return self._ann

    def _keyword(self, query: str, k: int, condition: str, params: list) -> list[tuple[int, float]]:
        # each term once (FTS5 folds case): 3,000 repeats of a term took 30 s, as FTS5 ranks every OR'd phrase
        terms = list(dict.fromkeys(t.lower() for t in "".join(c if c.isalnum() else " " for c in query).split()))
        if not terms:
            return []
        if len(terms) > MAX_KEYWORD_TERMS:
            raise ValueError(f"a keyword query holds {len(terms)} distinct terms; at most {MAX_KEYWORD_TERMS}")
        match = " OR ".join(f'"{t}"' for t in terms)
        rows = self._conn.execute(
            f"SELECT records.rowid, bm25(records_fts) FROM records_fts JOIN records "
            f"ON records.rowid = records_fts.rowid WHERE records_fts MATCH ? AND {condition} "
            f"ORDER BY bm25(records_fts) LIMIT ?",
            [match, *params, k],
        )
        return [(r[0], -float(r[1])) for r in rows]  # bm25() is lower-is-better

    def _results(self, hits: list[tuple[int, float]]) -> list[SearchResult]:
        """The hits' records, in the hits' order (one query for all of them, not one per hit)."""
        rows: dict[int, tuple] = {}
        for start in range(0, len(hits), 500):
            chunk = [rowid for rowid, _ in hits[start : start + 500]]
            rows.update(
                (r[0], r[1:])
                for r in self._conn.execute(
                    f"SELECT rowid, id, text, metadata FROM records WHERE rowid IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return [
            SearchResult(row[0], score, row[1], json.loads(row[2]) if row[2] else None)
            for rowid, score in hits
            if (row := rows.get(rowid)) is not None
        ]

    # -- lifetime ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Save the HNSW index where that is worth it, and close the database. The database is closed even when
        the index cannot be saved (a full disk): the error says so, and the index is rebuilt when next needed."""
        ann = self._ann
        try:
            if ann is not None:
                ann.flush(self._conn)
                ann.save(self._conn)
        except (OSError, RuntimeError, sqlite3.Error) as exc:  # usearch reports a failed write as RuntimeError
            assert ann is not None
            raise EmbedliteError(
                f"{self.path}: its HNSW index could not be saved to {ann.path} ({exc}); "
                "the records are safe in the database, and the index will be rebuilt from them "
                "when next needed"
            ) from None
        finally:
            self._conn.close()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: a write lands whole or not at all."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _check_ids(ids) -> list[str]:
    if isinstance(ids, str) or not hasattr(ids, "__iter__"):
        raise TypeError("ids must be a list of strings")
    ids = list(ids)
    for n, i in enumerate(ids):
        if not isinstance(i, str) or not i:
            raise TypeError(f"ids[{n}] is {i!r}: ids are non-empty strings")
    return ids


def _same_length(name: str, values, ids) -> None:
    if len(values) != len(ids):
        raise ValueError(f"{len(values)} {name} for {len(ids)} ids")


def _metadata_json(value, index: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"metadata[{index}] is {type(value).__name__}, expected a dict")
    _check_integers(value, f"metadata[{index}]")
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata[{index}] is not JSON-serialisable: {exc}") from None


def _check_integers(value: dict, where: str) -> None:
    """Refuse integers beyond 64 bits anywhere in a metadata dict: SQLite's JSON functions read them as floats, so
    a filter would not match them as written. Iterative, so nesting costs no recursion."""
    low, high = INT64
    stack: list[tuple[str, object]] = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((f"{path}.{k}", v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((f"{path}[{n}]", v) for n, v in enumerate(item))
        elif isinstance(item, int) and not isinstance(item, bool) and not low <= item <= high:
            raise ValueError(
                f"{path} is {item}, beyond the 64-bit integers a store keeps ({low} to {high}); store it as a string"
            )


def _loads(metadata: str | None) -> dict | None:
    """Stored metadata as compared: no metadata and an empty dict are the same."""
    return (json.loads(metadata) if metadata else None) or None


def _show(value) -> str:
    if isinstance(value, dict):
        return f"{value.get('name')} (dim {value.get('dim')})"
    return repr(value)
