"""VectorStore.import_parquet / `embedlite index import`: a 50k-row bulk load, resume, and refused mismatches."""

import numpy as np
import pytest
from click.testing import CliRunner

from embedlite import EmbedliteError, VectorStore
from embedlite.cli import main
from embedlite.files.vectors import vector_schema, vector_table
from embedlite.store.index import index_path

pq = pytest.importorskip("pyarrow.parquet")
MODEL = {"name": "synthetic", "dim": 32, "prompts": {}}


def write_vectors(path, n, model=MODEL, precision="float32", seed=0, chunk=10_000):
    """n random unit vectors with ids v0.. and short texts, in row groups of `chunk`."""
    rng = np.random.default_rng(seed)
    schema = vector_schema(model, precision, None, with_text=True)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n, chunk):
            vectors = rng.normal(size=(min(chunk, n - start), model["dim"])).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ids = [f"v{i}" for i in range(start, start + len(vectors))]
            writer.write_table(
                vector_table(schema, ids, vectors, [f"note number {i}" for i in range(start, start + len(vectors))])
            )
    return path


@pytest.fixture(scope="module")
def fifty_k(tmp_path_factory):
    return write_vectors(tmp_path_factory.mktemp("import") / "vectors.parquet", 50_000)


def test_import_50k_builds_the_index_once_at_the_end(tmp_path, fifty_k):
    with VectorStore(tmp_path / "s.db", quantization="int8", ann_threshold=20_000) as store:
        assert store.import_parquet(fifty_k, batch_size=4000) == 50_000
        assert len(store) == 50_000 and store.dim == 32 and store.model == MODEL
        assert index_path(store.path).exists()  # built by the import, not left to the first search
        first = next(pq.ParquetFile(fifty_k).iter_batches(batch_size=1)).to_pylist()[0]
        record = store.get(["v0"])[0]
        assert record.text == first["text"] and np.abs(record.vector - first["vector"]).max() < 0.01
        hits = store.search(np.asarray(first["vector"]), k=3)
        assert hits[0].id == "v0" and hits[0].text == "note number 0"
        assert store.search("number 49999", mode="keyword", k=1)[0].id == "v49999"
        leftover = store._conn.execute("SELECT count(*) FROM settings WHERE key LIKE 'import:%'").fetchone()[0]
    assert leftover == 0


def test_an_interrupted_import_resumes_where_it_stopped(tmp_path):
    vectors = write_vectors(tmp_path / "v.parquet", 12_000)
    with VectorStore(tmp_path / "s.db") as store:
        store.add(["v7000"], np.ones((1, 32), dtype=np.float32))  # the import stops on this id
        stop = r"rows 6000-8999: ids already in the store with another text: \['v7000'\]"
        with pytest.raises(ValueError, match=stop):
            store.import_parquet(vectors, batch_size=3000)
        assert len(store) == 6001  # two whole transactions, nothing of the third
        store.delete(["v7000"])
        assert store.import_parquet(vectors, batch_size=3000) == 6000  # only the rows not yet in
        assert len(store) == 12_000 and store.get(["v11999"])[0].text == "note number 11999"


def test_mismatches_are_refused_before_writing(tmp_path):
    path = tmp_path / "s.db"
    with VectorStore(path, dim=16) as store:
        store.add(["a"], np.ones((1, 16), dtype=np.float32))
    vectors = write_vectors(tmp_path / "v.parquet", 100)
    with VectorStore(path) as store, pytest.raises(EmbedliteError, match="dim 32; .* holds dim 16"):
        store.import_parquet(vectors)
    other = write_vectors(tmp_path / "other.parquet", 100, model={**MODEL, "name": "another-model"})
    with VectorStore(tmp_path / "m.db") as store:
        store.import_parquet(vectors)
        with pytest.raises(EmbedliteError, match="another-model .*built with synthetic"):
            store.import_parquet(other)
        assert len(store) == 100
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with VectorStore(tmp_path / "j.db") as store, pytest.raises(EmbedliteError, match="not a readable Parquet"):
        store.import_parquet(tmp_path / "junk.parquet")


def test_model_mismatch_against_an_embedder_store(tmp_path, embedder):
    with VectorStore(tmp_path / "e.db", embedder=embedder) as store:
        vectors = write_vectors(tmp_path / "v.parquet", 10, model={"name": "synthetic", "dim": 384, "prompts": {}})
        with pytest.raises(EmbedliteError, match="synthetic .*built with all-MiniLM-L6-v2"):
            store.import_parquet(vectors)
        assert len(store) == 0


def test_cli_import(tmp_path):
    vectors = write_vectors(tmp_path / "v.parquet", 300, precision="float16")
    res = CliRunner().invoke(main, ["index", "import", str(tmp_path / "s.db"), str(vectors)])
    assert res.exit_code == 0 and "300 records imported; 300 records in" in res.output, res.output
    res = CliRunner().invoke(main, ["index", "import", str(tmp_path / "s.db"), str(vectors)])
    # a finished import run again: the README says a rerun resumes; it said "use upsert"
    assert res.exit_code == 0 and "0 records imported; 300 records in" in res.output, res.output


def test_a_null_vector_is_an_error_naming_file_and_row(tmp_path):
    """flatten() skipped the null, so the reshape failed with 'cannot reshape array' (or shifted every vector)."""
    import pyarrow as pa

    schema = vector_schema(MODEL, "float32", None, with_text=False)
    vectors = [[0.5] * 32, None, [0.25] * 32]
    table = pa.table(
        {"id": ["a", "b", "c"], "vector": pa.array(vectors, type=schema.field("vector").type)}, schema=schema
    )
    pq.write_table(table, tmp_path / "v.parquet")
    with (
        VectorStore(tmp_path / "s.db") as store,
        pytest.raises(
            EmbedliteError,
            match=r"v.parquet: row 1 has a null "
            "vector",
        ),
    ):
        store.import_parquet(tmp_path / "v.parquet")
