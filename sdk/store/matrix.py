"""The store's vectors in memory for exact search: one row per record, in rowid order, changed in place.

A write does not drop the matrix: appended records go into spare rows (capacity grows by half when full),
replaced ones overwrite their row, deleted ones are marked dead (never scored) until dead rows are a quarter of the
matrix, which is then compacted. int8 records stay int8 in memory (a quarter of float32's bytes) and are scored as
the Kotlin and Swift stores score them, decoded to float32 against the float32 query; over many rows an integer
pass picks the rows that can be in the top k first (see `_int8_candidates`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np

from ..files import codec
from .index import latest_change, pruned_through

HEADROOM = 16  # a loaded matrix keeps 1/16 spare rows, so the first writes after a load copy nothing
INT8_PASS_MIN = 4096  # fewer rows than this are decoded and scored at once: bounding them costs more than it saves
# slack on the int8 pass's error bound, relative to |row| |query|, for float32 rounding in either pass
ROUNDING = 1e-4
RELOAD_SHARE = 0.25  # more changed records than this share of the matrix: reload it rather than patch it


class VectorMatrix:
    """Rows by rowid. `slots_of` maps rowids to live rows; `scores` scores live rows against a query."""

    def __init__(self, dim: int, metric: str, quantization: str):
        self.dim, self.metric, self.quantization = dim, metric, quantization
        self.size = 0  # rows in use, live or dead
        self.count = 0  # live rows
        self._rowids = np.empty(0, dtype=np.int64)
        self._live = np.empty(0, dtype=bool)
        self._rows, self._factors = self._decode([])

    def _decode(self, blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Rows as held (int8 codes, float32, or packed sign bits) and per-row factors: for int8 the scale and the
        norm of the decoded row; none for the others."""
        if self.quantization != "int8":
            rows = codec.decode_matrix(blobs, self.dim, self.quantization)
            return rows, np.empty((len(rows), 0), dtype=np.float32)
        if not blobs:
            return np.empty((0, self.dim), dtype=np.int8), np.empty((0, 2), dtype=np.float32)
        codes, scales = codec.int8_codes(blobs, self.dim)
        factors = np.empty((len(codes), 2), dtype=np.float32)
        factors[:, 0] = scales
        for s in range(0, len(codes), 65536):  # in blocks: a float32 copy of a million rows is a gigabyte
            factors[s : s + 65536, 1] = np.linalg.norm(codes[s : s + 65536].astype(np.float32), axis=1)
        factors[:, 1] *= scales
        return codes, factors

    # -- changing ------------------------------------------------------------------------------------
    def reset(self, count: int, chunks: Iterable[list[tuple[int, bytes]]]) -> None:
        """Hold exactly the (rowid, vector blob) records of `chunks`, `count` in all, in rowid order. Decoded chunk
        by chunk into arrays sized once: at 1M records, a list of them all cost 1.3 GB beside the matrix."""
        self.size = self.count = 0
        self._rowids = np.empty(0, dtype=np.int64)
        self._live = np.empty(0, dtype=bool)
        self._rows, self._factors = self._decode([])
        self._grow(count + count // HEADROOM)
        for rows in chunks:
            self._append(
                np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                [r[1] for r in rows],
                spare=count // HEADROOM,
            )

    def update(self, touched: np.ndarray, rows: list[tuple[int, bytes]]) -> bool:
        """Apply changed records: `touched` are the rowids written since the matrix was current, `rows` the ones
        of them that still exist, with their vectors. False (nothing changed) where a new rowid falls below the last
        row, so the caller reloads instead; SQLite hands out rowids above the largest, so that is rare."""
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        slots, found = self._find(ids)
        order = np.argsort(ids[~found], kind="stable")
        new_ids = ids[~found][order]
        if len(new_ids) and self.size and new_ids[0] < self._rowids[self.size - 1]:
            return False
        if found.any():
            at = slots[found]
            self._rows[at], self._factors[at] = self._decode([rows[i][1] for i in np.flatnonzero(found)])
            self._live[at] = True
        gone_slots, gone_found = self._find(np.setdiff1d(np.asarray(touched, dtype=np.int64), ids))
        self._live[gone_slots[gone_found]] = False
        if len(new_ids):
            missing = np.flatnonzero(~found)[order]
            self._append(new_ids, [rows[i][1] for i in missing], spare=max(len(new_ids), self.size // 2))
        self.count = int(np.count_nonzero(self._live[: self.size]))
        if self.size - self.count > max(self.size // 4, 1024):
            self._compact()
        return True

    def _find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row of each rowid (where present) and whether it is present, live or dead."""
        rowids = self._rowids[: self.size]
        if not self.size or not len(ids):
            return np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=bool)
        # rowids ascend and, until records are deleted, without gaps: try row = rowid - first rowid before a binary
        # search (a million rows: the 64 HNSW candidates' rows in 36 us instead of 84; the searches miss the cache)
        slots = np.clip(ids - rowids[0], 0, self.size - 1)
        missed = rowids[slots] != ids
        if missed.any():
            slots[missed] = np.minimum(np.searchsorted(rowids, ids[missed]), self.size - 1)
        return slots, rowids[slots] == ids

    def _append(self, ids: np.ndarray, blobs: list[bytes], spare: int) -> None:
        rows, factors = self._decode(blobs)
        end = self.size + len(ids)
        if end > len(self._rowids):
            self._grow(end + spare)
        self._rowids[self.size : end] = ids
        self._rows[self.size : end], self._factors[self.size : end] = rows, factors
        self._live[self.size : end] = True
        self.size = end
        self.count += len(ids)

    def _grow(self, capacity: int) -> None:
        def grown(array: np.ndarray) -> np.ndarray:
            out = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
            out[: self.size] = array[: self.size]
            return out

        self._rowids, self._live = grown(self._rowids), grown(self._live)
        self._rows, self._factors = grown(self._rows), grown(self._factors)

    def _compact(self) -> None:
        keep = np.flatnonzero(self._live[: self.size])
        self._rowids, self._rows, self._factors = self._rowids[keep], self._rows[keep], self._factors[keep]
        self._live = np.ones(len(keep), dtype=bool)
        self.size = self.count = len(keep)

    # -- reading -------------------------------------------------------------------------------------
    def rowids(self, slots: np.ndarray) -> np.ndarray:
        """Rowids of these rows."""
        return self._rowids[slots]

    def slots_of(self, rowids: np.ndarray) -> np.ndarray:
        """Live rows of the given rowids, ascending and once each (rowids the matrix does not hold are skipped)."""
        slots, found = self._find(np.asarray(rowids, dtype=np.int64))
        slots = slots[found]
        return np.unique(slots[self._live[slots]])

    def top(self, query: np.ndarray, k: int, slots: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k best live rows (among `slots`, ascending, where given), best first, ties to the earlier row (the
        older record), and their scores; higher is better."""
        if self.quantization == "int8" and (self.size if slots is None else len(slots)) >= INT8_PASS_MIN:
            slots = self._int8_candidates(query, k, slots)
        scores = self._scores(query, slots)
        k = min(k, self.count if slots is None else len(slots))
        if k == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]  # the k-th best score
        above = np.flatnonzero(scores > kth)
        best = np.concatenate([above, np.flatnonzero(scores == kth)[: k - len(above)]])
        best = best[np.lexsort((best, -scores[best]))]
        return (best if slots is None else slots[best]), scores[best]

    def _scores(self, query: np.ndarray, slots: np.ndarray | None) -> np.ndarray:
        """Score of each given row (slots None: every row in place, as indexing would copy the matrix; dead rows
        -inf)."""
        rows = self._rows[: self.size] if slots is None else self._rows[slots]
        if self.quantization == "int8":
            scales = self._factors[: self.size, 0] if slots is None else self._factors[slots, 0]
            rows = rows.astype(np.float32) * scales[:, None]
        scores = codec.scores(rows, query, self.metric, self.quantization)
        if slots is None and self.count != self.size:
            scores[~self._live[: self.size]] = -np.inf
        return scores

    def _int8_candidates(self, query: np.ndarray, k: int, slots: np.ndarray | None) -> np.ndarray:
        """The rows that can be in the top k, from one integer pass: the query rounded to int8 as well, codes times
        query codes in a SIMD kernel. A row's exact dot product differs from that estimate by at most |row| times
        |the query's rounding error| (Cauchy-Schwarz), so the rows whose estimate is within twice the largest such
        bound of the k-th best estimate are all that can make the top k; `top` scores them exactly. The results
        are those of scoring every decoded row in float32; the pass reads a quarter of the bytes."""
        codes = self._rows[: self.size] if slots is None else self._rows[slots]
        factors = self._factors[: self.size] if slots is None else self._factors[slots]
        query_scale = np.float32(max(float(np.abs(query).max()), 1e-30) / 127.0)
        query_codes = np.round(query / query_scale).astype(np.int8)
        error = float(np.linalg.norm(query - query_codes * query_scale))
        estimate = codec.int8_dots(codes, query_codes).astype(np.float32) * (factors[:, 0] * query_scale)
        if self.metric == "l2":  # -|row - query| orders as 2 row.query - |row|^2
            estimate = 2 * estimate - factors[:, 1] ** 2
        if slots is None and self.count != self.size:
            estimate[~self._live[: self.size]] = -np.inf
        k = min(k, self.count if slots is None else len(slots))
        if k == 0:
            return np.empty(0, dtype=np.int64)
        largest = float(factors[:, 1].max())
        slack = (2 if self.metric == "l2" else 1) * largest * (error + ROUNDING * float(np.linalg.norm(query)))
        kth = np.partition(estimate, len(estimate) - k)[len(estimate) - k]
        keep = np.flatnonzero(estimate >= kth - 2 * (slack + ROUNDING * largest * largest))
        return keep if slots is None else slots[keep]


class MatrixCache:
    """A store's vectors as one VectorMatrix, brought up to date when this or another connection changed the file:
    from the change log (only the records written since), or by reading every vector where the log cannot say."""

    def __init__(self) -> None:
        self.matrix: VectorMatrix | None = None
        self.version = None  # SQLite's data_version when the matrix was last brought up to date
        self.seq = 0  # the last logged change the matrix holds
        self.stale = False  # this connection wrote since (its own commits do not move data_version)
        self.loads = 0  # full reads of every vector
        self.updates = 0  # times the matrix changed: loads and patches

    def current(self, conn: sqlite3.Connection, dim: int, metric: str, quantization: str) -> VectorMatrix:
        """The matrix, up to date with the file as `conn` sees it."""
        # data_version moves when another connection commits; this one's own writes set `stale`.
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        matrix = self.matrix
        if matrix is not None and version == self.version and not self.stale:
            return matrix
        conn.execute("BEGIN")  # one snapshot for the log and the records read
        try:
            if matrix is None or not self._patch(conn, matrix):
                matrix = self._load(conn, dim, metric, quantization)
        finally:
            conn.execute("COMMIT")
        self.version, self.stale = version, False
        self.updates += 1
        return matrix

    def _load(self, conn: sqlite3.Connection, dim: int, metric: str, quantization: str) -> VectorMatrix:
        self.matrix = VectorMatrix(dim, metric, quantization)
        count = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        rows = conn.execute("SELECT rowid, vector FROM records ORDER BY rowid")
        self.matrix.reset(count, iter(lambda: rows.fetchmany(50_000), []))
        self.seq = _logged_through(conn)
        self.loads += 1
        return self.matrix

    def _patch(self, conn: sqlite3.Connection, matrix: VectorMatrix) -> bool:
        """Apply the records logged since the matrix was current; False where it must be reloaded instead (the
        log was pruned past it, a file without a log, or so many changes that reading everything is cheaper)."""
        try:
            if pruned_through(conn) > self.seq:
                return False
            newer = "SELECT DISTINCT rowid FROM changes WHERE seq > ?"
            touched = np.fromiter((r[0] for r in conn.execute(newer, (self.seq,))), dtype=np.int64)
        except sqlite3.OperationalError:  # a read-only file written before the change log existed
            return False
        if len(touched) > RELOAD_SHARE * max(matrix.size, 1):
            return False
        rows = conn.execute(f"SELECT rowid, vector FROM records WHERE rowid IN ({newer})", (self.seq,)).fetchall()
        if not matrix.update(touched, rows):
            return False
        self.seq = _logged_through(conn)
        return True


def _logged_through(conn: sqlite3.Connection) -> int:
    try:
        return latest_change(conn)
    except sqlite3.OperationalError:
        return 0
