"""The store's vectors in memory for exact search: one row per record, in rowid order, changed in place.

A write does not drop the matrix: appended records go into spare rows (capacity grows by half when full),
replaced ones overwrite their row, deleted ones are marked dead (never scored) until dead rows are a quarter of the
matrix, which is then compacted. int8 vectors are decoded to float32 once, as they enter the matrix, and scored
against the float32 query as the Kotlin and Swift stores score them (an int8 query would reorder near ties).
"""

from __future__ import annotations

import numpy as np

from . import vector_codec as codec

HEADROOM = 16  # a loaded matrix keeps 1/16 spare rows, so the first writes after a load copy nothing


class VectorMatrix:
    """Rows by rowid. `slots_of` maps rowids to live rows; `scores` scores live rows against a query."""

    def __init__(self, dim: int, metric: str, quantization: str):
        self.dim, self.metric, self.quantization = dim, metric, quantization
        self.size = 0  # rows in use, live or dead
        self.count = 0  # live rows
        self._rowids = np.empty(0, dtype=np.int64)
        self._live = np.empty(0, dtype=bool)
        self._rows = self._decode([])

    def _decode(self, blobs: list[bytes]) -> np.ndarray:
        return codec.decode_matrix(blobs, self.dim, self.quantization)

    # -- changing ------------------------------------------------------------------------------------
    def reset(self, rows: list[tuple[int, bytes]]) -> None:
        """Hold exactly these (rowid, vector blob) records, given in rowid order."""
        self.size = self.count = 0
        self._rowids = np.empty(0, dtype=np.int64)
        self._live = np.empty(0, dtype=bool)
        self._rows = self._decode([])
        self._append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)), [r[1] for r in rows],
                     spare=len(rows) // HEADROOM)

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
            self._rows[at] = self._decode([rows[i][1] for i in np.flatnonzero(found)])
            self._live[at] = True
        gone_slots, gone_found = self._find(np.setdiff1d(np.asarray(touched, dtype=np.int64), ids))
        self._live[gone_slots[gone_found]] = False
        if len(new_ids):
            missing = np.flatnonzero(~found)[order]
            self._append(new_ids, [rows[i][1] for i in missing], spare=max(len(new_ids), self.size // 2))
        self.count = int(np.count_nonzero(self._live[:self.size]))
        if self.size - self.count > max(self.size // 4, 1024):
            self._compact()
        return True

    def _find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row of each rowid (where present) and whether it is present, live or dead."""
        rowids = self._rowids[:self.size]
        if not self.size or not len(ids):
            return np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=bool)
        slots = np.minimum(np.searchsorted(rowids, ids), self.size - 1)
        return slots, rowids[slots] == ids

    def _append(self, ids: np.ndarray, blobs: list[bytes], spare: int) -> None:
        rows = self._decode(blobs)
        end = self.size + len(ids)
        if end > len(self._rowids):
            self._grow(end + spare)
        self._rowids[self.size:end] = ids
        self._rows[self.size:end] = rows
        self._live[self.size:end] = True
        self.size = end
        self.count += len(ids)

    def _grow(self, capacity: int) -> None:
        def grown(array: np.ndarray) -> np.ndarray:
            out = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
            out[:self.size] = array[:self.size]
            return out

        self._rowids, self._live, self._rows = grown(self._rowids), grown(self._live), grown(self._rows)

    def _compact(self) -> None:
        keep = np.flatnonzero(self._live[:self.size])
        self._rowids, self._rows = self._rowids[keep], self._rows[keep]
        self._live = np.ones(len(keep), dtype=bool)
        self.size = self.count = len(keep)

    # -- reading -------------------------------------------------------------------------------------
    def rowids(self, slots: np.ndarray | None = None) -> np.ndarray:
        """Rowids of these rows (default: every live row)."""
        if slots is None:
            return self._rowids[:self.size][self._live[:self.size]]
        return self._rowids[slots]

    def slots_of(self, rowids: np.ndarray) -> np.ndarray:
        """Live rows of the given rowids, ascending and once each (rowids the matrix does not hold are skipped)."""
        slots, found = self._find(np.asarray(rowids, dtype=np.int64))
        slots = slots[found]
        return np.unique(slots[self._live[slots]])

    def scores(self, query: np.ndarray, slots: np.ndarray | None = None) -> np.ndarray:
        """Score of each given row (default: all rows, dead ones -inf); higher is better."""
        rows = self._rows[:self.size] if slots is None else self._rows[slots]
        scores = codec.scores(rows, query, self.metric, self.quantization)
        if slots is None and self.count != self.size:
            scores[~self._live[:self.size]] = -np.inf
        return scores
