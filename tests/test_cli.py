import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embedlite import EmbedliteError
from embedlite.cli import main
from embedlite.models import DEFAULT_MODEL


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def test_embed_json(minilm_artifact):
    res = run("embed", "some text", "more", "--dim", "128", "--json")
    assert res.exit_code == 0, res.output
    one_thread = run("embed", "some text", "more", "--dim", "128", "--json", "--threads", "1")
    assert json.loads(one_thread.output)[0]["embedding"] == pytest.approx(
        json.loads(res.output)[0]["embedding"], abs=1e-6
    )
    res_bad = run("embed", "x", "--threads", "0")
    assert res_bad.exit_code == 2 and "0 is not a thread count" in res_bad.output
    rows = json.loads(res.output)
    assert [r["text"] for r in rows] == ["some text", "more"] and len(rows[0]["embedding"]) == 128


def test_embed_from_stdin(minilm_artifact):
    res = run("embed", "-", "--json", input="one\ntwo\n")
    assert [r["text"] for r in json.loads(res.output)] == ["one", "two"]


def test_embed_as_query_or_document(minilm_artifact):
    query = json.loads(run("embed", "some text", "--query", "--json").output)[0]["embedding"]
    document = json.loads(run("embed", "some text", "--document", "--json").output)[0]["embedding"]
    assert query == document  # all-MiniLM-L6-v2 has no prompts; EmbeddingGemma's are tested with its replica
    res = run("embed", "x", "--query", "--task", "query")
    assert res.exit_code == 2 and "give one of --task, --query, --document" in res.output


def test_similarity(minilm_artifact):
    res = run("similarity", "a man plays guitar", "someone plays an instrument", "--json")
    related = json.loads(res.output)["similarity"]
    res = run("similarity", "a man plays guitar", "the bank raised interest rates", "--json")
    assert related > json.loads(res.output)["similarity"] + 0.2


def test_info(minilm_artifact):
    res = run("info", str(minilm_artifact))
    assert res.exit_code == 0 and "all-MiniLM-L6-v2" in res.output and "checksums    ok" in res.output
    info = json.loads(run("info", str(minilm_artifact), "--json").output)
    assert info["dim"] == 384
    from embedlite.runtimes.cpu import int8_kernels

    assert info["cpu"] == int8_kernels() and f"this cpu     {int8_kernels()}" in res.output


def test_int8_kernels_named_from_cpu_flags():
    from embedlite.runtimes.cpu import has_vnni, int8_kernels

    epyc_rome = frozenset("fpu sse4_2 avx fma avx2 bmi2".split())  # AVX2, no AVX-512, no VNNI
    assert "AVX2 without VNNI" in int8_kernels(epyc_rome) and not has_vnni(epyc_rome)
    sapphire = epyc_rome | {"avx512f", "avx512bw", "avx512_vnni", "amx_int8"}
    assert "AMX-INT8" in int8_kernels(sapphire) and has_vnni(sapphire)
    assert "AVX-512BW without VNNI" in int8_kernels(epyc_rome | {"avx512f", "avx512bw"})
    assert "NEON dot product" in int8_kernels(frozenset({"fp", "asimd", "asimddp"}))


def test_eval_sts_on_slice(minilm_artifact, data_dir, tmp_path):
    lines = (data_dir / "stsb" / "sts-test.csv").read_text(encoding="utf-8").splitlines()[:200]
    path = tmp_path / "slice.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    res = run("eval", "sts", str(path), "--json")
    assert res.exit_code == 0, res.output
    assert 0.7 < json.loads(res.output)["spearman"] < 0.95


def test_errors_are_one_line(minilm_artifact, tmp_path):
    res = run("embed", "x", "--dim", "100")
    assert res.exit_code == 1 and "supported dims: 384, 256, 128, 64" in res.output
    assert "Traceback" not in res.output
    res = run("info", str(tmp_path))
    assert res.exit_code == 1 and "manifest.json is missing" in res.output


def test_help_on_each_command():
    for cmd in (
        ["--help"],
        ["embed", "--help"],
        ["similarity", "--help"],
        ["export", "--help"],
        ["info", "--help"],
        ["eval", "sts", "--help"],
        ["eval", "retrieval", "--help"],
        ["distill", "--help"],
        ["merge", "--help"],
        ["index", "add", "--help"],
    ):
        assert run(*cmd).exit_code == 0


def test_embedding_does_not_import_torch(minilm_artifact):
    code = "import sys, embedlite; v = embedlite.embed(['x']); print('torch' in sys.modules, v.shape)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "(1,", "384)"]


def test_index_add_search_info(minilm_artifact, data_dir, tmp_path):
    corpus = (data_dir / "stsb-retrieval" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:300]
    rows = [json.loads(line) for line in corpus]
    src = tmp_path / "docs.jsonl"
    src.write_text(
        "\n".join(
            json.dumps({"id": r["_id"], "text": r["text"], "metadata": {"n": i % 2}}) for i, r in enumerate(rows)
        ),
        encoding="utf-8",
    )
    db = tmp_path / "docs.db"
    res = run("index", "add", str(db), str(src))
    assert res.exit_code == 0, res.output
    res = run("index", "search", str(db), rows[5]["text"], "-k", "3", "--json")
    hits = json.loads(res.output)
    assert hits[0]["id"] == rows[5]["_id"] and len(hits) == 3
    res = run("index", "search", str(db), rows[5]["text"], "--filter", '{"n": 0}', "--json", "--mode", "hybrid")
    assert all(h["metadata"]["n"] == 0 for h in json.loads(res.output))
    # the table names its score (modes' scores are not comparable) and shows whole ids
    for mode, label in (("vector", "cosine"), ("keyword", "bm25"), ("hybrid", "rrf")):
        lines = run("index", "search", str(db), rows[5]["text"], "-k", "2", "--mode", mode).output.splitlines()
        assert lines[0].split()[:3] == ["#", label, "id"] and lines[1].split()[2] == rows[5]["_id"], lines
    info = json.loads(run("index", "info", str(db), "--json").output)
    assert info["count"] == 300 and info["dim"] == 384 and info["model"] == DEFAULT_MODEL  # the embedded default
    res = run("index", "add", str(db), str(src))  # a rerun resumes: what is stored as given is skipped
    assert res.exit_code == 0 and "0 records added, 0 replaced, 300 already there" in res.output, res.output
    changed = src.read_text(encoding="utf-8").replace(rows[7]["text"], "a note that was edited")
    src.write_text(changed, encoding="utf-8")
    res = run("index", "add", str(db), str(src))
    assert res.exit_code == 1 and "pass --upsert" in res.output and rows[7]["_id"] in res.output
    res = run("index", "add", str(db), str(src), "--upsert")
    assert res.exit_code == 0 and "0 records added, 1 replaced, 299 already there" in res.output, res.output
    assert json.loads(run("index", "info", str(db), "--json").output)["count"] == 300
    res = run("index", "search", str(db), "x", "--filter", "{bad")
    assert res.exit_code == 1 and "--filter is not valid JSON" in res.output
    res = run("index", "search", str(db), "x", "--filter", '{"n": {}}')
    assert res.exit_code == 1 and "filter 'n': an empty condition" in res.output and "Traceback" not in res.output


def test_distill_needs_data_and_output_or_a_config(tmp_path):
    res = run("distill", "--epochs", "1")
    assert res.exit_code != 0 and "give --data and --output" in res.output
    bad = tmp_path / "d.toml"
    bad.write_text("epochz = 3\n")
    res = run("distill", "--config", str(bad))
    assert res.exit_code != 0 and "unknown setting(s) epochz" in res.output and "Traceback" not in res.output


def test_export_prints_no_library_chatter(minilm_dir, tmp_path):
    """A fresh process, so the heavy imports happen inside the command: torch's, torchao's and the exporters'
    deprecation and progress lines stay off the terminal; the command's own lines remain."""
    from embedlite.training.student import random_bert

    src = random_bert(minilm_dir, tmp_path / "st")
    cli = str(Path(sys.executable).parent / "embedlite")
    res = subprocess.run([cli, "export", str(src), "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "deprecat" not in (res.stdout + res.stderr).lower() and "Warning" not in res.stderr
    assert "converting to onnx" in res.stderr and "parity: min cosine" in res.stdout


def test_export_options_are_checked_before_any_work(tmp_path):
    """A bad --sequence-buckets or --dims value, or buckets for an ONNX-only export, is a usage error naming the
    option, before a model is loaded."""
    out = tmp_path / "o"
    for args, says in [
        (["--format", "tflite", "--sequence-buckets", "16,3a"], "Invalid value for --sequence-buckets: comma"),
        (["--dims", "256,x"], "Invalid value for --dims: comma separated whole numbers, got '256,x'"),
        (["--sequence-buckets", "32"], "--sequence-buckets shapes TFLite signatures: add --format tflite"),
    ]:
        res = run("export", str(tmp_path / "no-such-model"), "-o", str(out), *args)
        assert res.exit_code == 2 and says in res.output, res.output
    assert not out.exists()


def test_export_checks_and_calibrates_on_the_parity_texts_given(minilm_dir, tmp_path):
    """--parity-texts reaches the export itself (without --target it was read by nothing): the parity check runs
    on those texts, so a multilingual student is calibrated and checked on its languages, not on the built-in
    English sentences."""
    from embedlite.training.student import random_bert

    src = random_bert(minilm_dir, tmp_path / "st")
    texts = tmp_path / "texts.txt"
    texts.write_text("Ein Mädchen bürstet sich die Haare.\n東京は日本の首都です。\nUn homme joue.\n", encoding="utf-8")
    res = run(
        "export", str(src), "--precision", "int8", "--parity-texts", str(texts), "-o", str(tmp_path / "o"), "--json"
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])[0]
    assert report["parity"]["sentences"] == 3


def test_a_training_command_writes_no_library_bars_or_chatter_into_a_log(minilm_dir, tmp_path):
    """Off a terminal, transformers' own bars ("Loading weights", "Writing model shards") wrote a \\r line per
    model loaded or saved into a training run's log, and importing sentence-transformers (torchao) logged its
    missing CUDA kernels on every run."""
    from embedlite.training.student import random_bert

    first = random_bert(minilm_dir, tmp_path / "a")
    cli = str(Path(sys.executable).parent / "embedlite")
    res = subprocess.run(
        [cli, "merge", str(first), str(first), "-o", str(tmp_path / "m")], capture_output=True, text=True
    )
    assert res.returncode == 0 and "wrote" in res.stdout, res.stderr
    assert "\r" not in res.stderr and "it/s" not in res.stderr and "Failed to load" not in res.stderr, res.stderr


def test_the_python_distill_imports_sentence_transformers_quietly(minilm_dir, tmp_path):
    """embedlite.distill() imported sentence-transformers (and so torchao, which logs its missing CUDA kernels)
    without the quiet import the CLI uses, and off a terminal left transformers' and sentence-transformers' bars on
    ("Loading weights", "Batches" as \\r lines in a log) and its tokenize deprecation: a fresh process runs a few
    steps and the Matryoshka axes on a random student, stderr a pipe."""
    from embedlite.training.student import random_bert

    student = random_bert(minilm_dir, tmp_path / "st")
    (tmp_path / "texts.txt").write_text("".join(f"sentence number {i}\n" for i in range(8)))
    np.save(tmp_path / "teacher.npy", np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32))
    code = (
        "import embedlite\n"
        "from embedlite.training import DistillConfig\n"
        f"embedlite.distill(DistillConfig(output={str(tmp_path / 'out')!r}, student='layers', "
        f"student_source={str(student)!r}, student_layers=(0,), train_texts=({str(tmp_path / 'texts.txt')!r},), "
        f"teacher_embeddings={str(tmp_path / 'teacher.npy')!r}, batch_size=4, max_seq_length=16, "
        f"matryoshka_axes=({str(tmp_path / 'texts.txt')!r},)))\n"  # its encode drew sentence-transformers' bar
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and (tmp_path / "out" / "modules.json").is_file(), res.stderr
    assert "Failed to load" not in res.stderr and "Warning" not in res.stderr, res.stderr
    assert "\r" not in res.stderr and "it/s" not in res.stderr and "deprecated" not in res.stderr, res.stderr


def test_two_files_of_notes_without_ids_keep_every_note(minilm_artifact, tmp_path):
    """Lines without ids were numbered from 1 in every file: the second file's notes collided with the first's,
    and --upsert then replaced them."""
    from embedlite import VectorStore

    (tmp_path / "monday.txt").write_text("buy milk\ncall mum\n", encoding="utf-8")
    (tmp_path / "tuesday.txt").write_text("fix the bike\n", encoding="utf-8")
    db = tmp_path / "notes.db"
    assert run("index", "add", str(db), str(tmp_path / "monday.txt")).exit_code == 0
    res = run("index", "add", str(db), str(tmp_path / "tuesday.txt"), "--upsert")
    assert res.exit_code == 0 and "1 record added, 0 replaced; 3 records in" in res.output, res.output
    with VectorStore(db, read_only=True) as store:
        got = store.get(["monday.txt:1", "monday.txt:2", "tuesday.txt:1"])
    assert [r.text for r in got if r] == ["buy milk", "call mum", "fix the bike"]


def test_index_add_reads_csv_and_jsonl_metadata_like_embed_file(minilm_artifact, tmp_path):
    from embedlite import VectorStore

    (tmp_path / "books.csv").write_text(
        'title,text\nDune,"Sand, spice and worms"\nEmma,A comedy of manners\n', encoding="utf-8"
    )
    (tmp_path / "notes.jsonl").write_text(
        json.dumps({"text": "ring the plumber", "metadata": {"tag": "home"}}) + "\n", encoding="utf-8"
    )
    db = tmp_path / "all.db"
    assert run("index", "add", str(db), str(tmp_path / "books.csv")).exit_code == 0
    assert run("index", "add", str(db), str(tmp_path / "notes.jsonl")).exit_code == 0
    with VectorStore(db, read_only=True) as store:
        assert store.count() == 3  # the header row is not a note
        dune, note = store.get(["books.csv:1", "notes.jsonl:1"])
    assert dune.text == "Sand, spice and worms" and dune.metadata == {"title": "Dune"}
    assert note.metadata == {"tag": "home"}
    res = run("index", "search", str(db), "desert planet", "--filter", '{"title": "Dune"}', "--json")
    assert [h["id"] for h in json.loads(res.output)] == ["books.csv:1"]
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    res = run("index", "add", str(db), str(tmp_path / "latin1.txt"))
    assert res.exit_code == 1 and "latin1.txt: not UTF-8 text at or after line 1" in res.output


def test_index_add_interrupted_resumes_without_embedding_again(minilm_artifact, data_dir, tmp_path):
    """Ctrl-C in the middle of `index add`, then the same command: nothing lost, nothing embedded twice."""
    import signal
    import sqlite3
    import time

    from embedlite.files.records import distinct_texts, read_texts

    notes = tmp_path / "notes.txt"
    total = 2000
    notes.write_text(
        "\n".join(distinct_texts(read_texts(data_dir / "stsb" / "sts-train.csv"))[:total]) + "\n", encoding="utf-8"
    )
    db = tmp_path / "notes.db"
    command = [
        sys.executable,
        "-c",
        "from embedlite.cli import main; main()",
        "index",
        "add",
        str(db),
        str(notes),
        "--batch-size",
        "50",
    ]
    # Ctrl-C as at a terminal: a suite started in the background (`pytest &` in a script) ignores SIGINT, and its
    # children inherit that (a full run here kept all 2,000 notes after the signal)
    first = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    stored = 0
    for _ in range(6000):  # at most about 5 minutes
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    stored = conn.execute("SELECT count(*) FROM records").fetchone()[0]
            except sqlite3.OperationalError:
                stored = 0
        if stored >= 100 or first.poll() is not None:
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=120)
    with sqlite3.connect(db) as conn:
        kept = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    assert 100 <= kept < total, kept  # interrupted in the middle
    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert f"{total - kept:,} records added, 0 replaced, {kept:,} already there; {total:,} records in" in second.stdout


def test_models_by_name_and_near_misses(minilm_artifact):
    res = run("models", "--json")
    rows = {r["name"]: r for r in json.loads(res.output)}
    assert list(rows)[0] == DEFAULT_MODEL and rows[DEFAULT_MODEL]["status"] == "shipped (default)"
    assert rows["embeddinggemma-300m"]["license"] == "Gemma Terms of Use"
    assert rows["embeddinggemma-300m"]["dims"] == [768, 512, 256, 128]
    assert rows["multilingual-e5-small"]["license"] == "MIT" and rows["multilingual-e5-small"]["languages"] == "~100"
    assert rows[DEFAULT_MODEL]["languages"] == "en"
    assert rows["all-MiniLM-L6-v2"]["status"] == "converted"  # by the session's fixture
    table = run("models").output
    assert "embeddinggemma-300m" in table and max(map(len, table.splitlines())) <= 80  # fits a terminal
    res = run("info", DEFAULT_MODEL)
    assert res.exit_code == 0 and "tflite / int8\n" in res.output
    assert run("info", "all-MiniLM-L6-v2").exit_code == 0
    res = run("info", "embedlite-smal")
    assert res.exit_code == 1 and "did you mean embedlite-small?" in res.output
    res = run("embed", "-m", "embedinggemma-300m", "x")
    assert res.exit_code == 1 and "did you mean embeddinggemma-300m?" in res.output and "Traceback" not in res.output


def test_a_recipes_model_is_listed_and_resolves_by_name_once_built(minilm_artifact, tmp_path, monkeypatch):
    """embedlite-multilingual and embedlite-tiny-v2 are not shipped: `models` lists each with its licence, languages
    and how to build it; by name it is an error that gives the recipe's commands and build time, until an artifact
    is in $EMBEDLITE_HOME/models."""
    import shutil

    from embedlite import Embedder
    from embedlite.models import RECIPES, resolve
    from embedlite.training import config_from_file

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("EMBEDLITE_HOME", str(tmp_path))
    rows = {r["name"]: r for r in json.loads(run("models", "--json").output)}
    for name, recipe in RECIPES.items():  # each builds where its commands say: its output is build/models/NAME
        assert recipe.parity_texts is None or (repo / recipe.parity_texts).is_file()
        assert Path(config_from_file(repo / recipe.recipe).output).resolve() == repo / "build" / "models" / name
        assert rows[name]["status"] == "recipe"
        assert f"embedlite distill --config {recipe.recipe}" in rows[name]["source"]
    row = rows["embedlite-multilingual"]
    assert (row["license"], row["dims"]) == ("Gemma Terms of Use; MIT", [384, 256, 128, 64])
    assert rows["embedlite-tiny-v2"]["license"] == "Gemma Terms of Use; Apache-2.0"
    assert max(map(len, run("models").output.splitlines())) <= 80
    with pytest.raises(EmbedliteError, match="not shipped and not built here.*embedlite-multilingual.toml"):
        Embedder("embedlite-multilingual")
    with pytest.raises(EmbedliteError, match="embedlite-tiny-v2.toml && embedlite export .*about 29 minutes"):
        Embedder("embedlite-tiny-v2")
    res = run("info", "embedlite-multilingual")
    assert res.exit_code == 1 and "embedlite distill --config" in res.output and "Traceback" not in res.output
    shutil.copytree(minilm_artifact, tmp_path / "models" / "embedlite-multilingual")
    assert resolve("embedlite-multilingual") == tmp_path / "models" / "embedlite-multilingual"
    assert Embedder("embedlite-multilingual").embed(["hallo"]).shape == (1, 384)
    assert {r["name"]: r for r in json.loads(run("models", "--json").output)}["embedlite-multilingual"][
        "status"
    ] == "built"


def test_export_without_torch_is_one_line_naming_the_extra(tmp_path):
    """On the light install `embedlite export` ended in a 25-line ModuleNotFoundError traceback."""
    script = "import sys; sys.modules['torch'] = None; from embedlite.cli import main; main()"  # as if not installed
    res = subprocess.run(
        [sys.executable, "-c", script, "export", "all-MiniLM-L6-v2", "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert "embedlite export needs the 'torch' package: pip install 'embedlite[export]'" in res.stderr


def test_a_store_searches_with_the_model_it_records(minilm_artifact, tmp_path):
    """Issue 30 item 8: a store made with all-MiniLM-L6-v2 is searched with it, from Python without embedder= and
    from `index search` without -m (both used the default model, or said "no embedder")."""
    from embedlite import VectorStore

    db = tmp_path / "notes.db"
    with VectorStore(db, embedder="all-MiniLM-L6-v2") as store:
        store.add(["milk", "dentist"], texts=["Buy oat milk", "Dentist on Friday at 10"])
    with VectorStore(db) as store:
        assert store.search("when is my appointment", k=1)[0].id == "dentist"
    result = run("index", "search", str(db), "when is my appointment", "-k", "1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["id"] == "dentist"


def test_a_store_of_an_unknown_model_asks_for_it(tmp_path):
    from embedlite import VectorStore

    db = tmp_path / "vectors.db"
    with VectorStore(db, dim=3) as store:
        store.add(["a"], vectors=[[1.0, 0.0, 0.0]])
    with VectorStore(db) as store, pytest.raises(EmbedliteError, match="records no model; open it with embedder="):
        store.search("a text", k=1)
