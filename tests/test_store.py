"""VectorStore on real embeddings of STS-B sentences, and on hand-made vectors where exact answers are known."""

import os
import sqlite3
import stat

import numpy as np
import pytest

from embedlite import EmbedliteError, VectorStore


def unit(rng, n, dim=8):
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture()
def rng():
    return np.random.default_rng(0)


def test_exact_search_matches_numpy(tmp_path, rng):
    vecs = unit(rng, 500)
    with VectorStore(tmp_path / "s.db") as store:
        store.add([f"id{i}" for i in range(500)], vecs)
        q = vecs[7] + 0.01
        hits = store.search(q, k=10)
    expected = np.argsort(-(vecs @ (q / np.linalg.norm(q))))[:10]
    assert [h.id for h in hits] == [f"id{i}" for i in expected]
    assert hits[0].id == "id7" and hits[0].score > 0.99


# Binary codes of random 64-d vectors keep few exact neighbours; chance level is 0.01.
@pytest.mark.parametrize("quantization, recall", [("float16", 1.0), ("int8", 0.9), ("binary", 0.15)])
def test_quantized_storage_keeps_neighbours(tmp_path, rng, quantization, recall):
    vecs = unit(rng, 1000, 64)
    queries = unit(rng, 20, 64)
    exact = VectorStore(tmp_path / "f.db")
    exact.add([str(i) for i in range(1000)], vecs)
    q_store = VectorStore(tmp_path / "q.db", quantization=quantization)
    q_store.add([str(i) for i in range(1000)], vecs)
    overlap = np.mean(
        [len({h.id for h in exact.search(q, k=10)} & {h.id for h in q_store.search(q, k=10)}) / 10 for q in queries]
    )
    assert overlap >= recall
    sizes = {"float16": 2 * 64, "int8": 4 + 64, "binary": 8}
    blob = sqlite3.connect(tmp_path / "q.db").execute("SELECT vector FROM records LIMIT 1").fetchone()[0]
    assert len(blob) == sizes[quantization]


def test_persistence_and_settings(tmp_path, rng):
    vecs = unit(rng, 5)
    with VectorStore(tmp_path / "s.db", metric="dot", quantization="int8") as store:
        store.add(list("abcde"), vecs, metadata=[{"n": i} for i in range(5)])
    with VectorStore(tmp_path / "s.db") as store:
        assert (store.count(), store.dim, store.metric, store.quantization) == (5, 8, "dot", "int8")
        rec = store.get(["c", "zz"])
        assert rec[0].metadata == {"n": 2} and rec[1] is None
        np.testing.assert_allclose(rec[0].vector, vecs[2], atol=0.01)
    with pytest.raises(EmbedliteError, match="built with dim 8"):
        VectorStore(tmp_path / "s.db", dim=16)
    with pytest.raises(EmbedliteError, match="built with metric 'dot'"):
        VectorStore(tmp_path / "s.db", metric="cosine")


def test_upsert_delete_and_duplicates(tmp_path, rng):
    vecs = unit(rng, 3)
    store = VectorStore(tmp_path / "s.db")
    store.add(["a", "b", "c"], vecs, texts=["one", "two", "three"])
    with pytest.raises(ValueError, match=r"ids already in the store: \['b'\]"):
        store.add(["d", "b"], vecs[:2])
    assert store.count() == 3 and store.get(["d"]) == [None]  # nothing of the failed batch landed
    with pytest.raises(ValueError, match="repeat within the batch"):
        store.add(["x", "x"], vecs[:2])
    store.upsert(["b", "d"], vecs[:2], texts=["two again", "four"])
    assert store.count() == 4 and store.get(["b"])[0].text == "two again"
    assert store.search(vecs[0], k=1)[0].id in {"a", "b"}
    assert store.delete(["a", "nope"]) == 1
    assert store.count() == 3 and "a" not in {h.id for h in store.search(vecs[0], k=10)}
    assert [h.id for h in store.search("again", mode="keyword")] == ["b"]


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda v: v[:, :4], "vectors have dim 4, this store holds dim 8"),
        (lambda v: np.where(np.arange(8) == 3, np.nan, v), "NaN or inf at rows"),
        (lambda v: np.full_like(v, np.inf), "NaN or inf"),
        (lambda v: [["x"] * 8] * 2, "vectors must be numbers"),
    ],
)
def test_bad_vectors_leave_store_unchanged(tmp_path, rng, bad, message):
    store = VectorStore(tmp_path / "s.db")
    store.add(["keep"], unit(rng, 1))
    with pytest.raises(ValueError, match=message):
        store.add(["n1", "n2"], bad(unit(rng, 2)))
    assert store.count() == 1 and store.get(["keep"])[0] is not None


def test_bad_ids_and_metadata(tmp_path, rng):
    store = VectorStore(tmp_path / "s.db")
    with pytest.raises(TypeError, match=r"ids\[1\]"):
        store.add(["a", 3], unit(rng, 2))
    with pytest.raises(ValueError, match="2 vectors for 1 ids"):
        store.add(["a"], unit(rng, 2))
    with pytest.raises(ValueError, match=r"metadata\[0\] is not JSON"):
        store.add(["a"], unit(rng, 1), metadata=[{"x": object()}])
    with pytest.raises(TypeError, match=r"metadata\[0\] is list"):
        store.add(["a"], unit(rng, 1), metadata=[[1]])
    with pytest.raises(ValueError, match="zero vector"):
        store.add(["a"], np.zeros((1, 8)))
    assert store.count() == 0


def test_filters_never_return_fewer_than_exist(tmp_path, rng):
    vecs = unit(rng, 300)
    meta = [{"lang": "en" if i % 30 else "fr", "year": 2000 + i % 25, "tag": f"t{i % 3}"} for i in range(300)]
    store = VectorStore(tmp_path / "s.db")
    store.add([str(i) for i in range(300)], vecs, metadata=meta)
    hits = store.search(vecs[1], k=10, filter={"lang": "fr"})
    assert len(hits) == 10 and all(h.metadata["lang"] == "fr" for h in hits)  # exactly 10 French exist
    hits = store.search(vecs[1], k=50, filter={"year": {"$gte": 2020, "$lt": 2022}, "tag": {"$in": ["t0", "t1"]}})
    expected = sum(1 for m in meta if 2020 <= m["year"] < 2022 and m["tag"] in ("t0", "t1"))
    assert len(hits) == min(50, expected) and all(2020 <= h.metadata["year"] < 2022 for h in hits)
    with pytest.raises(ValueError, match="unknown operator"):
        store.search(vecs[1], filter={"year": {"$between": 1}})
    with pytest.raises(ValueError, match="filter 'year': an empty condition"):
        store.search(vecs[1], filter={"year": {}})


def test_unicode_and_large_metadata(tmp_path, rng):
    store = VectorStore(tmp_path / "s.db")
    big = {"body": "é" * 200_000, "tags": list(range(5000)), "名前": "東京"}
    store.add(["ünï-💡"], unit(rng, 1), texts=["Grüße aus Köln 🎉"], metadata=[big])
    rec = store.get(["ünï-💡"])[0]
    assert rec.metadata == big and rec.text == "Grüße aus Köln 🎉"
    assert store.search("Köln", mode="keyword")[0].id == "ünï-💡"


def test_read_only_file(tmp_path, rng):
    path = tmp_path / "s.db"
    with VectorStore(path) as store:
        store.add(["a", "b"], unit(rng, 2))
    for suffix in ("", "-wal", "-shm"):
        p = tmp_path / f"s.db{suffix}"
        if p.exists():
            os.chmod(p, stat.S_IRUSR)
    try:
        with VectorStore(path, read_only=True) as store:
            assert len(store.search(unit(rng, 1)[0], k=5)) == 2
            with pytest.raises(EmbedliteError, match="read-only"):
                store.add(["c"], unit(rng, 1))
    finally:
        for p in tmp_path.iterdir():
            os.chmod(p, stat.S_IRUSR | stat.S_IWUSR)


def test_not_a_store(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(EmbedliteError, match="not a usable embedlite store"):
        VectorStore(path)
    assert path.read_bytes() == b"this is not sqlite" * 100


def test_text_store_with_embedder(tmp_path, embedder, sts_slice):
    docs = sts_slice.sentences2[:200]
    with VectorStore(tmp_path / "t.db", embedder=embedder) as store:
        store.add([f"d{i}" for i in range(200)], texts=docs, metadata=[{"i": i} for i in range(200)])
        assert store.model["name"] == "all-MiniLM-L6-v2" and store.dim == 384
        # a paraphrase (sentence1 of a high-scoring pair) finds its partner
        pairs = [i for i in range(200) if sts_slice.scores[i] >= 4.5][:10]
        found = [f"d{i}" in {h.id for h in store.search(sts_slice.sentences1[i], k=5)} for i in pairs]
        assert np.mean(found) >= 0.8
        found = [f"d{i}" in {h.id for h in store.search(sts_slice.sentences1[i], k=5, mode="hybrid")} for i in pairs]
        assert np.mean(found) >= 0.7  # STS-B repeats near-identical captions: a partner can rank below twins
    with pytest.raises(EmbedliteError, match="built with dim 384; it cannot be opened with dim 128"):
        from embedlite import Embedder

        VectorStore(tmp_path / "t.db", embedder=Embedder(embedder.path, dim=128))


def test_reader_sees_other_writer(tmp_path, rng):
    path = tmp_path / "s.db"
    writer, reader = VectorStore(path), None
    writer.add(["a"], unit(rng, 1))
    reader = VectorStore(path)
    assert len(reader.search(unit(rng, 1)[0], k=10)) == 1
    writer.add(["b", "c"], unit(rng, 2))
    assert len(reader.search(unit(rng, 1)[0], k=10)) == 3  # cache reloaded, not stale


def test_huge_and_tiny_vectors_keep_their_direction(tmp_path):
    """float32 norms overflowed above ~1.8e19 (stored as all zeros) and underflowed below ~1e-19 (refused as zero)."""
    store = VectorStore(tmp_path / "s.db")
    direction = np.array([3.0, 4.0, 0.0, 0.0], dtype=np.float32) / 5
    store.add(
        ["huge", "tiny", "denormal"],
        np.stack([direction * 3e38, direction * 1e-30, np.array([1e-45, 0, 0, 0], np.float32)]),
    )
    huge, tiny, denormal = store.get(["huge", "tiny", "denormal"])
    np.testing.assert_allclose(huge.vector, direction, atol=1e-6)
    np.testing.assert_allclose(tiny.vector, direction, atol=1e-6)
    np.testing.assert_allclose(denormal.vector, [1, 0, 0, 0], atol=1e-6)
    assert store.search(direction * 1e25, k=1)[0].id in ("huge", "tiny")
    with pytest.raises(ValueError, match=r"rows \[1\] are zero vectors"):
        store.add(["a", "zero"], np.stack([direction, np.zeros(4, np.float32)]))
    half = VectorStore(tmp_path / "h.db", metric="dot", quantization="float16")
    with pytest.raises(ValueError, match="beyond float16's range"):
        half.add(["big"], [[1e6, 0, 0, 0]])


def test_keyword_query_of_repeated_terms_is_each_term_once(tmp_path, rng):
    """3,000 repeats of one term took 30 s (every OR'd phrase ranked); 500k held an empty store for 3 minutes."""
    from embedlite.store.vector_store import MAX_KEYWORD_CHARS, MAX_KEYWORD_TERMS

    store = VectorStore(tmp_path / "s.db")
    store.add(["a", "b"], unit(rng, 2), texts=["the cat sat on the mat", "dogs bark at night"])
    assert [h.id for h in store.search("Cat " * (MAX_KEYWORD_CHARS // 4), mode="keyword")] == ["a"]
    with pytest.raises(ValueError, match=f"holds {MAX_KEYWORD_TERMS + 1} distinct terms; at most"):
        store.search(" ".join(f"w{i}" for i in range(MAX_KEYWORD_TERMS + 1)), mode="keyword")
    # a longer query is refused before it is split (or, in hybrid mode, embedded)
    for mode in ("keyword", "hybrid"):
        with pytest.raises(ValueError, match=f"a {mode} query of 800,000 characters; at most 65,536"):
            store.search("Cat " * 200_000, mode=mode)


def test_an_add_retried_after_it_landed_succeeds_as_already_stored(tmp_path, rng):
    """A write answered 'timed out' may still land; its retry failed with 'already in the store'."""
    vecs = unit(rng, 3)
    store = VectorStore(tmp_path / "s.db")
    meta = [{"n": 1}, None, {}]
    assert store.add(["a", "b", "c"], vecs, texts=["one", "two", "three"], metadata=meta) == 3
    assert store.add(["a", "b", "c"], vecs, texts=["one", "two", "three"], metadata=meta) == 0  # the retry
    assert store.add(["c", "d"], np.stack([vecs[2], vecs[0]]), texts=["three", "four"], metadata=[{}, None]) == 1
    assert store.count() == 4
    for changed in [
        dict(texts=["ONE"]),
        dict(texts=["one"], metadata=[{"n": 2}]),
        dict(texts=["one"], vectors=vecs[1:2]),
    ]:
        args = {"vectors": vecs[:1], "metadata": [{"n": 1}], **changed}
        with pytest.raises(
            ValueError,
            match=r"ids already in the store: \['a'\] with another text, metadata or "
            "vector; use upsert",
        ):
            store.add(["a"], **args)
    assert store.get(["a"])[0].text == "one" and store.count() == 4


def test_store_inputs_beyond_sqlites_limits_are_errors_naming_them(tmp_path, rng):
    """Each came out of SQLite as OperationalError / OverflowError with no word of the limit or the field."""
    store = VectorStore(tmp_path / "s.db")
    with pytest.raises(
        ValueError,
        match=r"metadata\[1\].stats.views\[1\] is 18446744073709551616, beyond the "
        "64-bit integers",
    ):
        store.add(["a", "b"], unit(rng, 2), metadata=[{"n": 2**63 - 1}, {"stats": {"views": [1, 2**64]}}])
    store.add(["a"], unit(rng, 1), metadata=[{"n": 2**63 - 1}])
    query = unit(rng, 1)[0]
    cases = [
        ({"n": 2**63}, r"filter 'n': 9223372036854775808 is beyond the 64-bit integers"),
        ({"n": {"$in": list(range(40_000))}}, "more than 900 values .* at most 900 in all"),
        ({f"k{i}": i for i in range(2000)}, "2000 keys; at most 64"),
    ]
    for where, message in cases:
        with pytest.raises(ValueError, match=message):
            store.search(query, filter=where)
    assert [h.id for h in store.search(query, filter={"n": 2**63 - 1})] == ["a"]
    with pytest.raises(ValueError, match="a query is one vector; this one holds 2"):
        store.search(unit(rng, 2).tolist())


def _read_only_mount_works(folder) -> bool:
    import shutil
    import subprocess

    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"', str(folder)],
        capture_output=True,
    )
    return probe.returncode == 0


def test_a_store_on_read_only_media_opens_for_search(tmp_path, rng):
    """WAL needs a -shm file beside the database: on read-only media even a read-only open failed."""
    import json
    import subprocess
    import sys

    folder = tmp_path / "media"
    folder.mkdir()
    vecs = unit(rng, 20)
    with VectorStore(folder / "s.db") as store:
        store.add([f"id{i}" for i in range(20)], vecs)
    assert not (folder / "s.db-shm").exists()
    if not _read_only_mount_works(folder):
        pytest.skip("no read-only mount here (unshare -rm with mount --bind)")
    script = (
        "import json, sys, numpy as np\n"
        "from embedlite import VectorStore, EmbedliteError\n"
        "store = VectorStore(sys.argv[1] + '/s.db')\n"
        "hits = [h.id for h in store.search(np.array(json.loads(sys.argv[2]), dtype=np.float32), k=3)]\n"
        "try:\n"
        "    store.add(['new'], np.ones((1, 8), dtype=np.float32))\n"
        "    refused = None\n"
        "except EmbedliteError as exc:\n"
        "    refused = f'{type(exc).__name__}: {exc}'\n"
        "print(json.dumps({'read_only': store.read_only, 'hits': hits, 'refused': refused}))\n"
    )
    run = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$1" -c "$2" "$0" "$3"',
            str(folder),
            sys.executable,
            script,
            json.dumps(vecs[7].tolist()),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["read_only"] and got["hits"][0] == "id7"
    assert (
        got["refused"] == f"ReadOnlyStoreError: {folder / 's.db'} is open read-only (its file or folder cannot be "
        "written)"
    )


def test_close_on_a_full_disk_closes_the_database_with_a_clear_error(tmp_path, rng):
    """Saving the HNSW index on close raised usearch's raw RuntimeError and left the database open."""
    import subprocess
    import sys

    path = tmp_path / "s.db"
    with VectorStore(path, ann_threshold=100) as store:
        store.add([f"id{i}" for i in range(400)], unit(rng, 400, dim=32))
        store.search(unit(rng, 1, dim=32)[0], k=5)  # builds and saves the index
    script = (
        "import resource, sqlite3, sys, numpy as np\n"
        "from embedlite import VectorStore, EmbedliteError\n"
        "store = VectorStore(sys.argv[1], ann_threshold=100)\n"
        "rng = np.random.default_rng(1)\n"
        "store.upsert([f'id{i}' for i in range(100)], rng.normal(size=(100, 32)).astype(np.float32))\n"
        "store.search(rng.normal(size=32).astype(np.float32), k=5)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))  # as a full disk: EFBIG\n"
        "try:\n"
        "    store.close()\n"
        "    print('closed without error')\n"
        "except EmbedliteError as exc:\n"
        "    print(f'EmbedliteError: {exc}')\n"
        "try:\n"
        "    store._conn.execute('SELECT 1')\n"
        "    print('the database is still open')\n"
        "except sqlite3.ProgrammingError:\n"
        "    print('the database is closed')\n"
    )
    run = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert (
        "its HNSW index could not be saved to" in run.stdout and "the records are safe in the database" in run.stdout
    ), run.stdout
    assert run.stdout.endswith("the database is closed\n")
    assert not list(tmp_path.glob("*.tmp")), "a partial index copy was left behind"
    with VectorStore(path, ann_threshold=100) as store:  # intact, and searchable (the index is rebuilt or replayed)
        assert store.count() == 400 and len(store.search(unit(rng, 1, dim=32)[0], k=5)) == 5
