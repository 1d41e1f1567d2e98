"""embed-file in one process: every input format, precisions, and a kill -9 mid-run resumed to the same file."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embedlite import EmbedliteError
from embedlite.cli import main
from embedlite.files.vectors import open_vector_file
from embedlite.jobs.embed_file import embed_file, partial_dir

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def texts(data_dir):
    from embedlite.files.records import distinct_texts, read_texts

    return distinct_texts(read_texts(data_dir / "stsb" / "sts-train.csv"))


def rows_of(path):
    """(ids, float32 vectors, texts) of a whole vector file."""
    ids, vectors, texts = [], [], []
    for i, v, t in open_vector_file(path).batches(1000):
        ids += i
        vectors.append(v)
        texts += t or []
    return ids, np.concatenate(vectors), texts


def test_every_input_format_gives_embed_vectors(tmp_path, embedder, texts):
    sample = texts[:40]
    expected = embedder.embed(sample)
    keys = [f"k{i}" for i in range(40)]
    (tmp_path / "in.jsonl").write_text(
        "\n".join(json.dumps({"key": k, "body": t}) for k, t in zip(keys, sample)) + "\n\n", encoding="utf-8"
    )
    with open(tmp_path / "in.tsv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter="\t").writerows([("key", "body"), *zip(keys, sample)])
    pq.write_table(pa.table({"key": keys, "body": sample}), tmp_path / "in.parquet")
    for name in ("in.jsonl", "in.tsv", "in.parquet"):
        result = embed_file(
            embedder,
            tmp_path / name,
            tmp_path / f"{name}.out.parquet",
            id_field="key",
            text_field="body",
            window=16,
            progress=False,
        )
        ids, vectors, got_texts = rows_of(result.path)
        assert (result.rows, result.resumed_at) == (40, 0) and ids == keys, name
        assert got_texts == sample and np.array_equal(vectors, expected), name
        assert not partial_dir(result.path).exists()
    (tmp_path / "lines.txt").write_text("first line\n\nthird line\n", encoding="utf-8")
    ids, _, got_texts = rows_of(
        embed_file(embedder, tmp_path / "lines.txt", tmp_path / "lines.parquet", progress=False).path
    )
    assert ids == ["lines.txt:1", "lines.txt:3"]  # no ids: the file's name and the line, unique across files
    assert got_texts == ["first line", "third line"]


@pytest.mark.parametrize("precision, tolerance", [("float16", 1e-3), ("int8", 1e-2)])
def test_precisions(tmp_path, embedder, texts, precision, tolerance):
    (tmp_path / "in.txt").write_text("\n".join(texts[:30]), encoding="utf-8")
    out = embed_file(
        embedder, tmp_path / "in.txt", tmp_path / "out.parquet", precision=precision, with_text=False, progress=False
    ).path
    file = open_vector_file(out)
    assert (file.precision, file.dim, file.with_text) == (precision, 384, False)
    assert file.model == {"name": "all-MiniLM-L6-v2", "dim": 384, "prompts": {}}
    _, vectors, _ = rows_of(out)
    assert np.abs(vectors - embedder.embed(texts[:30])).max() < tolerance


def test_bad_input_and_reruns_are_refused(tmp_path, embedder):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(EmbedliteError, match=r"bad.jsonl:2: expected a string in field 'text', got int"):
        embed_file(embedder, bad, tmp_path / "bad.parquet", progress=False)
    with pytest.raises(EmbedliteError, match="input file not found"):
        embed_file(embedder, tmp_path / "missing.jsonl", tmp_path / "x.parquet")
    good = tmp_path / "good.txt"
    good.write_text("one\ntwo\n", encoding="utf-8")
    embed_file(embedder, good, tmp_path / "good.parquet", progress=False)
    with pytest.raises(EmbedliteError, match="already exists"):
        embed_file(embedder, good, tmp_path / "good.parquet", progress=False)
    res = CliRunner().invoke(main, ["embed-file", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.parquet")])
    assert res.exit_code == 1 and "input file not found" in res.output and "Traceback" not in res.output


def test_a_second_run_on_the_same_output_is_refused_while_the_first_writes(tmp_path, embedder):
    """Two runs on one output had no lock: the loser crashed with a traceback and, 2 times in 5, the winner left
    an unreadable Parquet file."""
    from embedlite.files.lock import exclusive, lock_path

    source = tmp_path / "in.txt"
    source.write_text("one\ntwo\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    with exclusive(out, "a first embed-file run"):  # as a first run holds it, on another open file
        with pytest.raises(EmbedliteError, match=rf"out.parquet is being written by process {os.getpid()}"):
            embed_file(embedder, source, out, progress=False)
        assert not out.exists() and not partial_dir(out).exists()
    assert not lock_path(out).exists()  # released and removed with its holder
    assert embed_file(embedder, source, out, progress=False).rows == 2
    assert not lock_path(out).exists()


def test_an_interrupted_run_with_other_settings_is_refused(tmp_path, embedder):
    source = tmp_path / "in.txt"
    source.write_text("one\ntwo\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    partial_dir(out).mkdir()
    (partial_dir(out) / "job.json").write_text(json.dumps({"input": str(source), "precision": "int8"}))
    with pytest.raises(EmbedliteError, match="whose .*precision.* differ from this one's"):
        embed_file(embedder, source, out, progress=False)


def test_kill_9_then_resume_gives_the_same_file(tmp_path, minilm_artifact, embedder, texts):
    """A run killed with SIGKILL mid-way, run again, ends with exactly the bytes of an uninterrupted run."""
    source = tmp_path / "corpus.jsonl"
    source.write_text(
        "".join(json.dumps({"id": f"s{i}", "text": t}) + "\n" for i, t in enumerate(texts[:1500])), encoding="utf-8"
    )
    command = [
        str(Path(sys.executable).parent / "embedlite"),
        "embed-file",
        str(source),
        "-o",
        str(tmp_path / "out.parquet"),
        "--model",
        str(minilm_artifact),
        "--window",
        "100",
        "--json",
    ]
    parts = partial_dir(tmp_path / "out.parquet")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    while len(list(parts.glob("rows-*.parquet"))) < 3 and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not (tmp_path / "out.parquet").exists()
    committed = max(int(p.name.split("-")[2].split(".")[0]) for p in parts.glob("rows-*.parquet"))
    assert 300 <= committed < 1500
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == {"path": str(tmp_path / "out.parquet"), "rows": 1500, "resumed_at": committed}
    straight = embed_file(embedder, source, tmp_path / "straight.parquet", window=100, progress=False).path
    assert (tmp_path / "out.parquet").read_bytes() == straight.read_bytes()
    assert pq.read_table(tmp_path / "out.parquet").equals(pq.read_table(straight))
    assert not parts.exists()


def test_a_csv_field_over_the_csv_limit_is_an_error_naming_the_row(tmp_path, embedder):
    """csv's 128 KB field limit came out as a bare '_csv.Error: field larger than field limit'."""
    path = tmp_path / "long.csv"
    path.write_text("id,text\na,short\nb," + "x" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(EmbedliteError, match=r"long.csv: row 2 .*field larger than field limit .*JSONL or Parquet"):
        embed_file(embedder, path, tmp_path / "long.parquet", progress=False)
