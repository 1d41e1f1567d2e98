"""The store's ANN index: usearch HNSW keyed by SQLite rowid, saved beside the database, synced from a change log.

Every write to `records` appends the rowid it touched to the `changes` table (triggers, so any writer, in any
process, is logged). The index remembers the last change it applied; before a search it replays the newer ones
(remove the rowid, re-add it if the record still exists), so it is never stale. Up to LAG newer changes are not
replayed but handed to the search as `lagging` rowids, which it scores exactly beside the index's candidates: an
HNSW insertion costs about as much as a search, so a search right after adding a note does not pay for it. When the
log was pruned past that point, the saved file is reloaded, or the index rebuilt.

The saved file proves it belongs to its database before it is used: its header holds a token that the database
records in the same step as the save (a file left beside a re-created or restored database, whose recall fell to
0.03 when trusted, is rebuilt instead), and a CRC-32 of the graph (usearch crashed with SIGSEGV on a few flipped
bytes; a damaged file is rebuilt).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import sqlite3
import sys
import uuid
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import EmbedliteError, require
from ..files import codec

if TYPE_CHECKING:
    from usearch.index import Index

MAGIC = b"EMBEDLITE-HNSW 3\n"  # 3: the header holds the database's token and the graph's CRC-32; 2: i8 scaled
# HNSW "M": on bench_store's 1M real-derived int8 set, M=32 took the store's recall@10 at ef=96 from 0.963 (M=16) to
# 0.971 for 15% more build time and 30% more index bytes (the set's near-duplicate clusters need the extra links)
CONNECTIVITY = 32
EXPANSION_ADD = 128  # efConstruction
# ef at query time, raised to the number of candidates asked for: there, 0.971 at p50 0.54 ms; ef=128: 0.975 at 0.61
EXPANSION_SEARCH = 96
USEARCH_METRIC = {"dot": "ip", "l2": "l2sq"}  # cosine: see _new
SAVE_AFTER = 0.01  # save on close once replayed changes exceed this share of the index
# i8 graph: a unit vector's components are scaled so that I8_RANGE times their RMS (1/sqrt(dim)) maps to 127, and
# clipped beyond. usearch's own cast scales a unit vector by 127, which leaves a 256-dim embedding's components a
# dozen levels: on bench_store's 1M real-derived set, the graph's recall@10 (its top 32 re-scored in float32) at
# ef=64 went from 0.961 with usearch's cast to 0.990 with this grid (at ef=128: 0.986 to 0.995)
I8_RANGE = 5.0
LAG = 1024  # changed records left out of the graph (searched exactly) before they are replayed into it

LOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, rowid INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS changes_ai AFTER INSERT ON records BEGIN
    INSERT INTO changes(rowid) VALUES (new.rowid); END;
CREATE TRIGGER IF NOT EXISTS changes_ad AFTER DELETE ON records BEGIN
    INSERT INTO changes(rowid) VALUES (old.rowid); END;
CREATE TRIGGER IF NOT EXISTS changes_au AFTER UPDATE ON records BEGIN
    INSERT INTO changes(rowid) VALUES (old.rowid); INSERT INTO changes(rowid) VALUES (new.rowid); END;
"""


def index_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".hnsw")


class AnnIndex:
    """HNSW over one store's vectors. `candidates(query, n)` gives rowids of about the n nearest records."""

    def __init__(self, db_path: Path, dim: int, metric: str, quantization: str, writable: bool):
        _load_shared_libstdcxx()
        require("usearch.index", "ann", "the HNSW index of large stores")
        self.path = index_path(db_path)
        self.dim, self.metric, self.quantization, self.writable = dim, metric, quantization, writable
        self.index: Index | None = None
        self.seq = 0  # last change applied
        self.lagging = np.empty(0, dtype=np.int64)  # rowids changed after seq: not in the graph as they are now
        self.replayed = 0  # changes applied since the index was built or loaded

    def _new(self) -> Index:
        from usearch.index import Index

        if self.quantization == "binary":
            metric, dtype = "hamming", "b1"
        elif self.metric == "cosine":  # candidates are re-scored from the stored vectors, so the graph can hold
            # coarser ones: i8 builds 3x faster than f32 here, and unit vectors fit it (see graph_form). Their norms
            # are 1, so the graph ranks by inner product: i8 "ip" searched in 0.35 ms where "cos" took 0.57 (100k
            # clustered 256-dim vectors, same recall@10 after re-scoring: 0.9995 vs 1.0)
            metric, dtype = "ip", "i8"
        else:  # others keep their range in f16
            metric, dtype = USEARCH_METRIC[self.metric], "f16"
        return Index(
            ndim=self.dim,
            metric=metric,
            dtype=dtype,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    def _graph(self) -> Index:
        if self.index is None:
            raise RuntimeError(f"the HNSW index of {self.path} is not loaded: sync() it first")
        return self.index

    def _header(self) -> dict:
        return {"dim": self.dim, "metric": self.metric, "quantization": self.quantization}

    # -- keeping in sync -----------------------------------------------------------------------------
    def sync(self, conn: sqlite3.Connection, progress: bool = True) -> None:
        """Bring the index up to the database's latest change: replay the log (or leave up to LAG changes as
        `lagging`), or load or rebuild."""
        built = False
        conn.execute("BEGIN")  # one snapshot for the log and the records read below
        try:
            pruned = pruned_through(conn)
            if self.index is None or self.seq < pruned:
                if not self._load(conn) or self.seq < pruned:
                    self._build(conn, progress)
                    built = True
            self._replay(conn)
        finally:
            conn.execute("COMMIT")
        if built and self.save(conn, force=True):
            # Read back from the file, the graph is one contiguous buffer: at 1M vectors the store's p50 went from
            # 2.45 ms on the graph as usearch built it, node by node, to 1.35 ms. Read back with the built graph
            # freed first, rather than restored from its bytes beside it, it searched in 0.46 ms instead of 0.57
            # (as fast as in a process that opens the saved file).
            self.index = None
            if not self._load(conn):
                raise EmbedliteError(
                    f"the HNSW index {self.path} was written but cannot be read back; the "
                    "database is unchanged, and the next search builds the index again"
                )

    def _build(self, conn: sqlite3.Connection, progress: bool) -> None:
        from tqdm.auto import tqdm

        self.index, self.replayed = self._new(), 0
        self.seq = latest_change(conn)
        total = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        rows = conn.execute("SELECT rowid, vector FROM records")
        with tqdm(
            total=total, desc="building HNSW index", unit="vec", disable=None if progress and total >= 50_000 else True
        ) as bar:
            while batch := rows.fetchmany(50_000):
                self._add(batch)
                bar.update(len(batch))

    def flush(self, conn: sqlite3.Connection) -> None:
        """Replay the lagging changes into the graph, so that a saved index needs none of the log."""
        if self.index is None or not self.writable or not len(self.lagging):
            return
        conn.execute("BEGIN")
        try:
            self._replay(conn, lag=0)
        finally:
            conn.execute("COMMIT")

    def _replay(self, conn: sqlite3.Connection, lag: int = LAG) -> None:
        """Apply the logged changes after self.seq: drop each touched rowid, re-add those that still exist; up to
        `lag` of them are left lagging instead."""
        newer = "SELECT DISTINCT rowid FROM changes WHERE seq > ?"
        keys = np.fromiter((r[0] for r in conn.execute(newer, (self.seq,))), dtype=np.uint64)
        if len(keys) <= lag:
            self.lagging = keys.astype(np.int64)
            return
        index = self._graph()
        index.remove(keys[index.contains(keys)])
        self._add(conn.execute(f"SELECT rowid, vector FROM records WHERE rowid IN ({newer})", (self.seq,)).fetchall())
        self.replayed += len(keys)
        self.seq, self.lagging = max(self.seq, latest_change(conn)), np.empty(0, dtype=np.int64)

    def _add(self, rows: list) -> None:
        if rows:
            keys = np.fromiter((r[0] for r in rows), dtype=np.uint64, count=len(rows))
            self._graph().add(keys, self._vectors([r[1] for r in rows]))

    def _vectors(self, blobs: list[bytes]) -> np.ndarray:
        vectors = codec.decode_matrix(blobs, self.dim, self.quantization)  # float32 rows, or packed sign bits
        return vectors if self.quantization == "binary" else self.graph_form(vectors)

    def graph_form(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors (float32, a row or rows) as the graph holds and searches them."""
        if self.quantization == "binary":
            return np.packbits(vectors > 0, axis=-1)
        if self.metric == "cosine":  # one scale for all: the graph ranks by inner product
            return np.clip(np.round(vectors * (127 * self.dim**0.5 / I8_RANGE)), -127, 127).astype(np.int8)
        return vectors

    # -- the file ------------------------------------------------------------------------------------
    def _load(self, conn: sqlite3.Connection) -> bool:
        from usearch.index import Index

        try:
            with open(self.path, "rb") as f:
                if f.read(len(MAGIC)) != MAGIC:
                    return False
                header = json.loads(f.readline(1 << 16))
                if not isinstance(header, dict) or {k: header.get(k) for k in self._header()} != self._header():
                    return False
                if header.get("token") is None or header.get("token") != index_token(conn):
                    return False  # another database's index, or this one's from before a restore
                graph = bytearray(os.fstat(f.fileno()).st_size - f.tell())  # the graph read once, into one buffer
                if f.readinto(graph) != len(graph) or zlib.crc32(graph) != header.get("crc32"):
                    return False  # damaged: usearch would read it out of bounds
            index = Index.restore(graph)
            del graph
        except (OSError, ValueError, RuntimeError):
            return False  # missing or damaged: the caller rebuilds from the database
        if index is None or index.ndim != self.dim:
            return False
        self.index, self.seq, self.replayed = index, int(header["seq"]), 0
        return True

    def save(self, conn: sqlite3.Connection, force: bool = False) -> bool:
        """Write the index (atomically) and prune the change log up to it; on close only when worth it.
        Whether it was written."""
        if self.index is None or not self.writable or self.seq < pruned_through(conn):
            return False  # nothing to save, or another process saved a newer index already
        if not force and self.replayed <= SAVE_AFTER * max(len(self.index), 1):
            return False
        token = uuid.uuid4().hex
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        graph = tmp.with_name(tmp.name + ".graph")
        try:
            self.index.save(str(graph))  # straight to disk: its bytes in memory would double the index's size
            crc = 0
            with open(graph, "rb") as g:
                while block := g.read(1 << 24):
                    crc = zlib.crc32(block, crc)
            header = json.dumps(
                {**self._header(), "seq": self.seq, "count": len(self.index), "token": token, "crc32": crc}
            ).encode()
            with open(tmp, "wb") as f, open(graph, "rb") as g:
                f.write(MAGIC + header + b"\n")
                shutil.copyfileobj(g, f, 1 << 24)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk must not keep a partial copy that fills it further
            raise
        finally:
            graph.unlink(missing_ok=True)
        self.replayed = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            # the database names the file it trusts; a crash before this commit leaves a file it does not trust,
            # which is rebuilt: slower, never wrong
            conn.execute("INSERT OR REPLACE INTO settings VALUES ('index_token', ?)", (json.dumps(token),))
            conn.execute("DELETE FROM changes WHERE seq <= ?", (self.seq,))
            conn.execute(
                "INSERT OR REPLACE INTO settings VALUES ('changes_pruned_through', ?)",
                (json.dumps(max(self.seq, pruned_through(conn))),),
            )
        finally:
            conn.execute("COMMIT")
        return True

    # -- searching -----------------------------------------------------------------------------------
    def candidates(self, query: np.ndarray, count: int, expansion: int = EXPANSION_SEARCH) -> np.ndarray:
        """Rowids of about the `count` nearest records, and the lagging ones (the caller re-scores them exactly;
        a rowid may come twice, and a deleted one may come)."""
        index = self._graph()
        count = min(count, len(index))
        if count == 0:
            return self.lagging
        index.expansion_search = max(expansion, count)
        found = index.search(self.graph_form(query), count, threads=1).keys.astype(np.int64)
        return np.concatenate([found, self.lagging]) if len(self.lagging) else found


def index_token(conn: sqlite3.Connection) -> str | None:
    """The token of the index file this database last saved (None: none saved since it was created)."""
    row = conn.execute("SELECT value FROM settings WHERE key = 'index_token'").fetchone()
    return json.loads(row[0]) if row else None


def pruned_through(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM settings WHERE key = 'changes_pruned_through'").fetchone()
    return int(json.loads(row[0])) if row else 0


def latest_change(conn: sqlite3.Connection) -> int:
    """The last change number handed out; AUTOINCREMENT keeps it even when the log is pruned empty."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return int(row[0]) if row else 0


def _load_shared_libstdcxx() -> None:
    """usearch's extension links libstdc++ statically; its process-wide (GNU unique) locale symbols, loaded
    first, break number printing in a later-imported torch (export then fails on schema strings). Loading the
    shared libstdc++ globally before it keeps one copy of those symbols."""
    if sys.platform.startswith("linux") and "usearch.compiled" not in sys.modules:
        try:
            ctypes.CDLL("libstdc++.so.6", mode=ctypes.RTLD_GLOBAL)
        except OSError:
            pass
