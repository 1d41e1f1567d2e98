"""The store's in-memory matrix follows writes without reading every vector again, from this and other processes."""

import subprocess
import sys

import numpy as np
import pytest

from embedlite import VectorStore
from embedlite import vector_codec as codec


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
        assert store._cache_loads == 1
        far = -vecs[7]
        store.add(["new"], far[None])  # append
        assert store.search(far, k=1)[0].id == "new"
        store.upsert(["3"], far[None] * 0.5 + vecs[3] * 0.01)  # replace in place
        assert store.search(far, k=2)[1].id == "3" or store.search(far, k=2)[0].id == "3"
        store.delete(["new", "3", "5"])  # dead rows
        hits = {h.id for h in store.search(far, k=300)}
        assert not hits & {"new", "3", "5"} and len(hits) == 298
        assert store._cache_loads == 1  # every write above was patched in, none reloaded the matrix
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
        assert store._cache.size == store._cache.count == 4000
        assert store._cache_loads == 1
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
    loads = reader._cache_loads
    script = ("import sys, numpy as np; from embedlite import VectorStore\n"
              "s = VectorStore(sys.argv[1]); v = -np.array(eval(sys.argv[2]), dtype=np.float32)\n"
              "s.add(['other'], v[None]); s.upsert(['1'], v[None]); s.delete(['2']); s.close()")
    subprocess.run([sys.executable, "-c", script, str(path), repr(vecs[9].tolist())], check=True)
    top = [h.id for h in reader.search(-vecs[9], k=2)]
    assert sorted(top) == ["1", "other"]
    assert "2" not in {h.id for h in reader.search(vecs[2], k=200)}
    assert reader._cache_loads == loads  # patched from the change log, not reloaded
    reader.close()


def test_many_changes_reload_instead(tmp_path):
    rng = np.random.default_rng(3)
    vecs = unit(rng, 100)
    with VectorStore(tmp_path / "s.db") as store:
        store.add([str(i) for i in range(50)], vecs[:50])
        store.search(vecs[0], k=1)
        store.add([str(i) for i in range(50, 100)], vecs[50:])  # as many records again: one read of all
        assert store.search(vecs[77], k=1)[0].id == "77"
        assert store._cache_loads == 2


def test_int8_scores_are_the_decoded_float_scores(tmp_path):
    rng = np.random.default_rng(4)
    vecs = unit(rng, 2000, dim=64)
    with VectorStore(tmp_path / "s.db", quantization="int8") as store:
        store.add([str(i) for i in range(2000)], vecs)
        query = unit(rng, 1, dim=64)[0]
        hits = store.search(query, k=20)
        decoded = codec.decode_matrix([codec.encode(v, "int8") for v in vecs], 64, "int8") @ query
        exact = np.argsort(-decoded)[:20]
        assert [int(h.id) for h in hits] == exact.tolist()
        np.testing.assert_allclose([h.score for h in hits], decoded[exact], rtol=1e-6)
