"""The HNSW index of large stores: same answers as exact search, never stale, rebuilt when damaged."""

import importlib.util
import sqlite3

import numpy as np
import pytest

from embedlite import VectorStore

# find_spec, not importorskip: importing usearch here would bypass the store's own careful import
pytestmark = pytest.mark.skipif(importlib.util.find_spec("usearch") is None, reason="needs embedlite[ann]")
THRESHOLD = 500  # the tests' stores are small; the index engages above this many records


def clustered(n=3000, dim=32, seed=0):
    """Vectors around 100 centres: neighbours are well defined, as with real embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(100, dim))
    v = centres[rng.integers(0, 100, n)] + 0.3 * rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def overlap(store, queries, k=10, **kw):
    return np.mean(
        [
            len({h.id for h in store.search(q, k=k, **kw)} & {h.id for h in store.search(q, k=k, exact=True, **kw)}) / k
            for q in queries
        ]
    )


@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_ann_agrees_with_exact_and_is_saved(tmp_path, quantization):
    vecs = clustered()
    path = tmp_path / "s.db"
    with VectorStore(path, quantization=quantization, ann_threshold=THRESHOLD) as store:
        store.add([str(i) for i in range(len(vecs))], vecs)
        assert overlap(store, vecs[:40] + 0.05) >= 0.97
        # The graph is approximate, and built on every core, so not the same twice: a near tie at rank 3 may miss
        # (about 1 build in 20 here). What must hold: the nearest is found, and every hit carries its exact score.
        hits = store.search(vecs[5], k=3)
        exact = {h.id: h.score for h in store.search(vecs[5], k=50, exact=True)}
        assert hits[0].id == "5" == next(iter(exact))
        assert [h.score for h in hits] == pytest.approx([exact[h.id] for h in hits])
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    index_file = path.with_name("s.db.hnsw")
    assert index_file.exists()
    stamp = index_file.stat().st_mtime_ns
    with VectorStore(path, ann_threshold=THRESHOLD) as store:  # loaded, not rebuilt: the file is untouched
        assert store.search(vecs[5], k=1)[0].id == "5"
    assert index_file.stat().st_mtime_ns == stamp


def test_ann_never_stale_across_connections(tmp_path):
    vecs = clustered()
    path = tmp_path / "s.db"
    reader = VectorStore(path, dim=32, ann_threshold=THRESHOLD)
    writer = VectorStore(path, ann_threshold=THRESHOLD)
    writer.add([str(i) for i in range(len(vecs))], vecs)
    assert reader.search(vecs[10], k=1)[0].id == "10"  # builds the index
    writer.delete(["10"])
    far = -vecs[11]
    writer.add(["new"], far[None])
    writer.upsert(["12"], -vecs[12][None])
    assert "10" not in {h.id for h in reader.search(vecs[10], k=10)}
    assert reader.search(far, k=1)[0].id == "new"
    assert reader.search(-vecs[12], k=1)[0].id == "12"
    assert reader.search(vecs[12], k=1)[0].id != "12"
    reader.close()
    writer.close()


def test_change_log_pruned_and_replayed(tmp_path):
    vecs = clustered()
    path = tmp_path / "s.db"
    with VectorStore(path, ann_threshold=THRESHOLD) as store:
        store.add([str(i) for i in range(2000)], vecs[:2000])
        store.search(vecs[0], k=1)  # build + save prunes the log
        assert sqlite3.connect(path).execute("SELECT count(*) FROM changes").fetchone()[0] == 0
        store.add([str(i) for i in range(2000, 3000)], vecs[2000:])
    # another connection sees the 1000 newer changes, replays them from the log onto the saved index
    with VectorStore(path, ann_threshold=THRESHOLD) as store:
        assert store.search(vecs[2500], k=1)[0].id == "2500"
        assert overlap(store, vecs[2000:2040]) >= 0.97
    assert sqlite3.connect(path).execute("SELECT count(*) FROM changes").fetchone()[0] == 0


def test_filters_with_ann_return_every_match(tmp_path):
    vecs = clustered()
    with VectorStore(tmp_path / "s.db", ann_threshold=THRESHOLD) as store:
        store.add(
            [str(i) for i in range(len(vecs))],
            vecs,
            metadata=[{"rare": i < 3, "half": i % 2} for i in range(len(vecs))],
        )
        rare = store.search(vecs[100], k=10, filter={"rare": True})
        assert sorted(h.id for h in rare) == ["0", "1", "2"]
        half = store.search(vecs[100], k=10, filter={"half": 1})
        assert len(half) == 10 and all(int(h.id) % 2 == 1 for h in half)
        assert overlap(store, vecs[:20], filter={"half": 0}) >= 0.95


def saved_index(tmp_path):
    """A store of clustered vectors whose HNSW index was built and saved beside it."""
    vecs = clustered()
    path = tmp_path / "s.db"
    with VectorStore(path, ann_threshold=THRESHOLD) as store:
        store.add([str(i) for i in range(len(vecs))], vecs)
        store.search(vecs[0], k=1)
    return path, vecs


def test_damaged_index_is_rebuilt(tmp_path):
    path, vecs = saved_index(tmp_path)
    path.with_name("s.db.hnsw").write_bytes(b"EMBEDLITE-HNSW 1\n{not json")
    with VectorStore(path, ann_threshold=THRESHOLD) as store:
        assert store.search(vecs[7], k=1)[0].id == "7"
    assert path.with_name("s.db.hnsw").stat().st_size > 100_000


def test_flipped_bytes_in_the_index_are_caught_before_usearch_reads_them(tmp_path):
    """usearch restored a graph with a few flipped bytes and crashed on the first search (SIGSEGV): the header's
    CRC-32 is checked first. The search runs in a child process, so a crash fails the test instead of ending it."""
    import subprocess
    import sys

    path, vecs = saved_index(tmp_path)
    index_file = path.with_name("s.db.hnsw")
    data = bytearray(index_file.read_bytes())
    header_end = data.index(b"\n", len(b"EMBEDLITE-HNSW 3\n")) + 1
    for offset in range(header_end + 4096, len(data), 4099):  # one byte in every 4 kB of the nodes
        data[offset] ^= 0xFF
    index_file.write_bytes(bytes(data))
    script = (
        "import sys, numpy as np; from embedlite import VectorStore; "
        f"s = VectorStore(sys.argv[1], ann_threshold={THRESHOLD}); "
        "print([s.search(q, k=10)[0].id for q in np.load(sys.argv[2])][7])"
    )
    np.save(tmp_path / "q.npy", vecs[:50])
    run = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "q.npy")], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0 and run.stdout.strip() == "7", (run.returncode, run.stderr[-1000:])  # -11: SIGSEGV


def test_index_of_another_database_is_not_trusted(tmp_path):
    """A .hnsw left beside a re-created (or restored) database was used as it was: recall fell to 0.03."""
    path, _ = saved_index(tmp_path)
    stale = path.with_name("s.db.hnsw").read_bytes()
    for suffix in ("", "-wal", "-shm"):
        path.with_name("s.db" + suffix).unlink(missing_ok=True)
    other = clustered(seed=7)
    with VectorStore(path, ann_threshold=THRESHOLD) as store:
        store.add([f"new{i}" for i in range(len(other))], other)
    path.with_name("s.db.hnsw").write_bytes(stale)  # as if left behind, or restored with an older database
    with VectorStore(path, ann_threshold=THRESHOLD) as store:
        assert overlap(store, other[:40] + 0.05) >= 0.97


def test_read_only_store_uses_saved_index(tmp_path):
    path, vecs = saved_index(tmp_path)
    with VectorStore(path, read_only=True, ann_threshold=THRESHOLD) as store:
        assert store.search(vecs[9], k=1)[0].id == "9"


def test_fresh_writes_are_searched_exactly_until_replayed(tmp_path):
    vecs = clustered()
    path = tmp_path / "s.db"
    with VectorStore(path, ann_threshold=THRESHOLD) as store:
        store.add([str(i) for i in range(2500)], vecs[:2500])
        store.search(vecs[0], k=1)  # builds the graph
        size = len(store._ann.index)
        far = -vecs[1]
        store.add(["fresh"], far[None])
        store.upsert(["7"], -vecs[2][None])
        assert store.search(far, k=1)[0].id == "fresh"
        assert store.search(-vecs[2], k=1)[0].id == "7"
        assert len(store._ann.index) == size and len(store._ann.lagging) == 2  # not inserted into the graph yet
        store.delete(["fresh"])
        assert "fresh" not in {h.id for h in store.search(far, k=5)}
        store.add([str(i) for i in range(2500, 3000)], vecs[2500:])
        store.add([f"x{i}" for i in range(600)], vecs[:600] + 0.01)  # past the lag: replayed into the graph
        assert store.search(vecs[2700], k=1)[0].id == "2700"
        assert len(store._ann.lagging) == 0 and len(store._ann.index) == 3600
    with VectorStore(path, ann_threshold=THRESHOLD) as store:
        assert store.search(-vecs[2], k=1)[0].id == "7" and store.search(vecs[2900], k=1)[0].id == "2900"


def test_search_breadth_is_a_setting_and_checked(tmp_path):
    vecs = clustered(n=1000)
    with VectorStore(tmp_path / "s.db", ann_threshold=THRESHOLD, ann_expansion=400) as store:
        store.add([str(i) for i in range(len(vecs))], vecs)
        assert overlap(store, vecs[:20] + 0.05) >= 0.97
    with pytest.raises(ValueError, match="ann_expansion must be a positive integer, got 0"):
        VectorStore(tmp_path / "s.db", ann_expansion=0)
