"""Ray Data: embed_dataset and `embed-file --ray` on a local 2-CPU cluster give the single process's vectors."""

import numpy as np
import pytest
from click.testing import CliRunner

from embedlite import VectorStore
from embedlite.cli import main
from embedlite.files.vectors import open_vector_file
from embedlite.jobs.embed_file import embed_file

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster of 2 CPUs for this module (starting one takes a few seconds; shut down after it, as
    its idle processes took CPU from the rest of the suite)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, data_dir):
    from embedlite.files.records import distinct_texts, read_texts

    texts = distinct_texts(read_texts(data_dir / "stsb" / "sts-test.csv"))[:300]
    path = tmp_path_factory.mktemp("ray") / "corpus.parquet"
    pq.write_table(pa.table({"id": [f"t{i}" for i in range(len(texts))], "text": texts}), path, row_group_size=70)
    return path, texts


def by_id(path):
    rows = {}
    for ids, vectors, texts in open_vector_file(path).batches(1000):
        rows.update((i, (v, t)) for i, v, t in zip(ids, vectors, texts or [None] * len(ids)))
    return rows


@pytest.mark.parametrize("model", ["all-MiniLM-L6-v2 fp32", "shipped default int8"])
def test_embed_dataset_matches_embedder(ray_cluster, minilm_artifact, corpus, model):
    """Ray's workers and windows give each text the bits one process gives it: for fp32, and for the per-token
    int8 of the shipped default (its activation scales are each row's own, so its batches do not matter)."""
    from embedlite import Embedder
    from embedlite.jobs.distributed import embed_dataset
    from embedlite.models import default_artifact

    artifact = minilm_artifact if model.endswith("fp32") else default_artifact()
    path, texts = corpus
    ds = ray_cluster.data.read_parquet(str(path), num_cpus=0.25)
    rows = embed_dataset(ds, artifact, dim=128, workers=2, num_cpus=0.5, window=64).take_all()
    assert sorted(r["id"] for r in rows) == sorted(f"t{i}" for i in range(len(texts)))
    got = np.stack([np.asarray(r["vector"], dtype=np.float32) for r in sorted(rows, key=lambda r: int(r["id"][1:]))])
    assert np.array_equal(got, Embedder(artifact, device="cpu").embed(texts, dim=128))  # whatever the batches


def test_cli_ray_writes_what_one_process_writes(ray_cluster, tmp_path, minilm_artifact, embedder, corpus):
    path, _ = corpus
    res = CliRunner().invoke(
        main,
        [
            "embed-file",
            str(path),
            "-o",
            str(tmp_path / "ray.parquet"),
            "--ray",
            "--workers",
            "2",
            "--precision",
            "int8",
            "--window",
            "64",
            "--model",
            str(minilm_artifact),
        ],
    )
    assert res.exit_code == 0 and "(2 Ray workers)" in res.output, res.output
    single = embed_file(embedder, path, tmp_path / "one.parquet", precision="int8", progress=False).path
    assert open_vector_file(tmp_path / "ray.parquet").model == open_vector_file(single).model
    ray_rows, one_rows = by_id(tmp_path / "ray.parquet"), by_id(single)
    assert ray_rows.keys() == one_rows.keys()
    assert all(np.array_equal(ray_rows[k][0], v) and ray_rows[k][1] == t for k, (v, t) in one_rows.items())
    with VectorStore(tmp_path / "s.db", embedder=embedder) as store:
        assert store.import_parquet(tmp_path / "ray.parquet") == 300  # a folder of Ray's part files
        assert store.search("A man is playing a flute.", k=1)[0].id in ray_rows


def test_ray_errors_are_one_line(ray_cluster, tmp_path, minilm_artifact):
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["fine", None]}), tmp_path / "bad.parquet")
    res = CliRunner().invoke(
        main,
        [
            "embed-file",
            str(tmp_path / "bad.parquet"),
            "-o",
            str(tmp_path / "out"),
            "--ray",
            "--model",
            str(minilm_artifact),
        ],
    )
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "the Ray job stopped: EmbedliteError: the row with id 'b' has NoneType in column 'text'" in res.output
    assert not (tmp_path / "out").exists()
    res = CliRunner().invoke(
        main,
        [
            "embed-file",
            str(tmp_path / "bad.parquet"),
            "-o",
            str(tmp_path / "out"),
            "--ray",
            "--text-field",
            "body",
            "--model",
            str(minilm_artifact),
        ],
    )
    assert res.exit_code == 1 and "the dataset has no column 'body' (columns: id, text)" in res.output
