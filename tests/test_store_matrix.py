"""The store's in-memory matrix follows writes without reading every vector again, from this and other processes."""

import subprocess
import sys

import numpy as np
import pytest

from embedlite import VectorStore
from embedlite.files import codec


def unit(rng, n, dim=16):
    v = rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def ranking(store, queries, k=5):
    return [[(h.id, round(h.score, 5)) for h in store.search(q, k=k, exact=True)] for q in queries]


@pytest.mark.parametrize("quantization", ["float32", "int8", "binary"])
def test_writes_patch_the_matrix_in_place(tmp_path, quantization):
    rng = np.random.default_rng(0)
    vecs = unit(rng, 300)
    with VectorStore(tmp_path / "s.db", quantization=quantization) as store:
        store.add([str(i) for i in range(300)], vecs)
        store.search(vecs[0], k=1)
        assert store._matrix_cache.loads == 1
        far = -vecs[7]
        store.add(["new"], far[None])  # append
        assert store.search(far, k=1)[0].id == "new"
        store.upsert(["3"], far[None] * 0.5 + vecs[3] * 0.01)  # replace in place
        assert store.search(far, k=2)[1].id == "3" or store.search(far, k=2)[0].id == "3"
        store.delete(["new", "3", "5"])  # dead rows
        hits = {h.id for h in store.search(far, k=300)}
        assert not hits & {"new", "3", "5"} and len(hits) == 298
        assert store._matrix_cache.loads == 1  # every write above was patched in, none reloaded the matrix
        queries = unit(rng, 8)
        patched = ranking(store, queries)
    with VectorStore(tmp_path / "s.db") as fresh:  # read from scratch
        assert ranking(fresh, queries) == patched


def test_reused_rowid_and_compaction(tmp_path):
    rng = np.random.default_rng(1)
    vecs = unit(rng, 6000)
    with VectorStore(tmp_path / "s.db") as store:
        store.add([str(i) for i in range(6000)], vecs)
        store.search(vecs[0], k=1)
        store.delete(["5999"])  # the largest rowid: SQLite hands it out again
        store.add(["again"], vecs[5999][None])
        assert store.search(vecs[5999], k=1)[0].id == "again"
        for start in (0, 1):  # two rounds of 1000 deletes: then dead rows pass a quarter and are compacted
            store.delete([str(i) for i in range(start, 4000, 4)])
            store.search(vecs[0], k=1)
        assert store._matrix_cache.matrix.size == store._matrix_cache.matrix.count == 4000
        assert store._matrix_cache.loads == 1
        queries = unit(rng, 8)
        patched = ranking(store, queries)
    with VectorStore(tmp_path / "s.db") as fresh:
        assert ranking(fresh, queries) == patched


def test_writes_of_another_process_are_read_from_the_log(tmp_path):
    rng = np.random.default_rng(2)
    vecs = unit(rng, 200)
    path = tmp_path / "s.db"
    reader = VectorStore(path, dim=16)
    with VectorStore(path) as writer:
        writer.add([str(i) for i in range(200)], vecs)
    reader.search(vecs[0], k=1)
    loads = reader._matrix_cache.loads
    script = (
        "import sys, numpy as np; from embedlite import VectorStore\n"
        "s = VectorStore(sys.argv[1]); v = -np.array(eval(sys.argv[2]), dtype=np.float32)\n"
        "s.add(['other'], v[None]); s.upsert(['1'], v[None]); s.delete(['2']); s.close()"
    )
    subprocess.run([sys.executable, "-c", script, str(path), repr(vecs[9].tolist())], check=True)
    top = [h.id for h in reader.search(-vecs[9], k=2)]
    assert sorted(top) == ["1", "other"]
    assert "2" not in {h.id for h in reader.search(vecs[2], k=200)}
    assert reader._matrix_cache.loads == loads  # patched from the change log, not reloaded
    reader.close()


def test_many_changes_reload_instead(tmp_path):
    rng = np.random.default_rng(3)
    vecs = unit(rng, 100)
    with VectorStore(tmp_path / "s.db") as store:
        store.add([str(i) for i in range(50)], vecs[:50])
        store.search(vecs[0], k=1)
        store.add([str(i) for i in range(50, 100)], vecs[50:])  # as many records again: one read of all
        assert store.search(vecs[77], k=1)[0].id == "77"
        assert store._matrix_cache.loads == 2


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_int8_search_gives_the_decoded_float_ranking(tmp_path, metric):
    """Above INT8_PASS_MIN rows an integer pass picks the candidates; the hits and scores must be those of scoring
    every decoded row in float32, also among near-duplicates, after deletes, and within a filter."""
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(20, 64))
    vecs = (centres[rng.integers(20, size=6000)] + rng.normal(scale=0.02, size=(6000, 64))).astype(np.float32)
    vecs *= rng.uniform(0.5, 2.0, size=(6000, 1)).astype(np.float32)  # norms matter for dot and l2
    gone = set(range(0, 6000, 7))
    with VectorStore(tmp_path / "s.db", quantization="int8", metric=metric) as store:
        store.add([str(i) for i in range(6000)], vecs, metadata=[{"even": i % 2 == 0} for i in range(6000)])
        store.delete([str(i) for i in gone])
        stored = codec.prepare(vecs, metric)
        decoded = codec.decode_matrix([codec.encode(v, "int8") for v in stored], 64, "int8")
        for query, condition in [
            (vecs[3], None),
            (vecs[10] * 0.3 + vecs[11], None),
            (-vecs[5], None),
            (vecs[8], {"even": True}),
        ]:
            q = codec.prepare(query[None], metric)[0]
            scores = codec.scores(decoded, q, metric, "int8")
            allowed = [i for i in range(6000) if i not in gone and (condition is None or i % 2 == 0)]
            expected = sorted(allowed, key=lambda i: (-scores[i], i))[:25]
            hits = store.search(query, k=25, filter=condition, exact=True)
            assert [int(h.id) for h in hits] == expected
            np.testing.assert_allclose([h.score for h in hits], scores[expected], rtol=1e-5, atol=1e-4)
        matrix = store._matrix_cache.matrix
        assert len(matrix._int8_candidates(codec.prepare(vecs[3][None], metric)[0], 25, None)) < 1000


def test_int8_dots_kernel_and_numpy_agree(monkeypatch):
    rng = np.random.default_rng(5)
    codes = rng.integers(-127, 128, size=(70_000, 384), dtype=np.int8)  # more rows than one numpy block
    query = rng.integers(-127, 128, size=384, dtype=np.int8)
    exact = codes.astype(np.int64) @ query.astype(np.int64)
    assert np.array_equal(codec.int8_dots(codes, query), exact)
    monkeypatch.setitem(sys.modules, "numkong", None)  # as without the ann extra: the numpy blocks
    assert np.array_equal(codec.int8_dots(codes, query), exact)
