"""`embedlite serve` start-up errors, SIGTERM with requests in flight, kill -9 during store writes, timeouts."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from serve_process import ServeProcess

from embedlite import VectorStore
from embedlite.cli import main

pytest.importorskip("uvicorn")


def test_bad_settings_are_one_line_errors(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    cases = [
        (["--store", str(tmp_path / "my notes.db")], "may use only letters, digits"),
        (["--store", f"a={tmp_path / 'a.db'}", "--store", f"a={tmp_path / 'b.db'}"], "already taken"),
        (["--max-queue", "0"], "max_queue must be a positive integer"),
        (["--port", str(taken.getsockname()[1])], "cannot listen on 127.0.0.1"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(main, ["serve", *args])
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, args
    taken.close()
    assert "EMBEDLITE_API_KEY" in CliRunner().invoke(main, ["serve", "--help"]).output


def test_sigterm_finishes_requests_in_flight_and_closes_the_store(minilm_artifact, tmp_path, sts_slice):
    db = tmp_path / "notes.db"
    server = ServeProcess(tmp_path, "--model", str(minilm_artifact), "--store", str(db))
    texts = [" ".join(sts_slice.sentences1[i : i + 8]) for i in range(48)]
    replies: list = []
    requests = [("/v1/embeddings", {"input": texts})] * 3 + [
        ("/v1/stores/notes/add", {"ids": [f"n{i}" for i in range(48)], "texts": texts})
    ]
    threads = [
        threading.Thread(target=lambda p=path, b=body: replies.append(server.request("POST", p, b)))
        for path, body in requests
    ]
    for t in threads:
        t.start()
    while server.request("GET", "/health")[2]["queued_texts"] < 96:  # the model is busy with them
        time.sleep(0.005)
    server.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join()
    assert server.proc.wait(60) in (0, -signal.SIGTERM)
    assert sorted(status for status, _, _ in replies) == [200] * 4, [r[2] for r in replies]
    assert not (tmp_path / "notes.db-wal").exists(), "the store was not closed"
    with VectorStore(db) as store:
        assert store.count() == 48


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="per-thread nice values are Linux's")
def test_model_and_store_threads_run_below_the_event_loop(minilm_artifact, tmp_path):
    """Under load the event loop gets the core first: /health stays fast (benchmarks/bench_abuse.py)."""
    server = ServeProcess(tmp_path, "--model", str(minilm_artifact), "--store", str(tmp_path / "notes.db"))
    try:
        assert server.request("POST", "/v1/embeddings", {"input": ["a lamp", "a river"]})[0] == 200
        assert server.request("POST", "/v1/stores/notes/add", {"ids": ["n1"], "texts": ["a lamp"]})[0] == 200
        nice = {}
        for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
            stat = (task / "stat").read_text()
            nice[int(task.name)] = int(stat[stat.rindex(")") + 2 :].split()[16])  # field 19: nice
        loop = nice.pop(server.proc.pid)  # uvicorn runs the event loop on the main thread
        lowered = [n for n in nice.values() if n >= loop + 10]
        assert len(lowered) >= 2, nice  # the model workers (one per core, at most 4) and the store's thread
    finally:
        server.stop()


def test_kill_9_during_store_writes_keeps_every_acknowledged_write(minilm_artifact, tmp_path):
    db = tmp_path / "crash.db"
    args = ("--model", str(minilm_artifact), "--store", str(db))
    for trial in range(int(os.environ.get("EMBEDLITE_CRASH_TRIALS", "2"))):
        server = ServeProcess(tmp_path, *args)
        acknowledged: list[str] = []
        stop = threading.Event()

        def writer(name: str) -> None:
            rng, batch = np.random.default_rng([trial, ord(name)]), 0
            while not stop.is_set():
                ids = [f"t{trial}-{name}-{batch}-{i}" for i in range(50)]
                body = {"ids": ids, "vectors": rng.normal(size=(50, 384)).tolist(), "metadata": [{"batch": batch}] * 50}
                try:
                    status, _, _ = server.request("POST", "/v1/stores/crash/add", body)
                except OSError:  # killed mid-request: not acknowledged
                    return
                if status == 200:
                    acknowledged.extend(ids)
                batch += 1

        threads = [threading.Thread(target=writer, args=(name,)) for name in "ab"]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 1.0 + 0.5 * trial
        while time.monotonic() < deadline or len(acknowledged) < 100:
            time.sleep(0.01)
        server.proc.kill()
        server.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        restarted = ServeProcess(tmp_path, *args)
        status, _, reply = restarted.request("POST", "/v1/stores/crash/get", {"ids": acknowledged})
        assert status == 200 and all(r is not None for r in reply["data"]), "an acknowledged write was lost"
        count = restarted.request("GET", "/v1/stores/crash")[2]["count"]
        assert count >= len(acknowledged) and count % 50 == 0, "a write landed in part"
        assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        restarted.stop()


def test_a_request_waiting_past_the_timeout_gets_503(minilm_artifact, tmp_path, sts_slice):
    server = ServeProcess(tmp_path, "--model", str(minilm_artifact), "--timeout", "0.001")
    texts = [" ".join(sts_slice.sentences1[i : i + 12]) for i in range(64)]
    status, headers, reply = server.request("POST", "/v1/embeddings", {"input": texts})
    assert status == 503 and reply["error"]["code"] == "timeout" and headers["retry-after"] == "1"
    assert server.request("GET", "/health")[0] == 200
    server.stop()


def _hold_write_lock(db) -> sqlite3.Connection:
    """Another process's writer, as SQLite sees it: a connection in BEGIN IMMEDIATE (the store's writes wait for
    its busy timeout, 10 s, then fail)."""
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def _kill(server: ServeProcess) -> None:
    """A server a failed test left running."""
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait()


def _vectors(n: int, seed: int = 0) -> list:
    return np.random.default_rng(seed).normal(size=(n, 384)).astype(np.float32).tolist()


def test_sigterm_exits_within_the_grace_while_a_store_thread_is_stuck(minilm_artifact, tmp_path):
    """A store thread stuck in a call kept the server from exiting on SIGTERM (only SIGKILL stopped it)."""
    db = tmp_path / "stuck.db"
    VectorStore(db, dim=384).close()
    server = ServeProcess(
        tmp_path, "--model", str(minilm_artifact), "--store", str(db), "--timeout", "1", "--shutdown-grace", "1"
    )
    holder = _hold_write_lock(db)
    try:
        status, _, reply = server.request("POST", "/v1/stores/stuck/add", {"ids": ["a"], "vectors": _vectors(1)})
        assert status == 503 and reply["error"]["code"] == "timeout"  # its thread still waits for the lock
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(60) == 1
    finally:
        holder.rollback()
        holder.close()
        _kill(server)
    log = server.log.read_text()
    assert "store 'stuck' did not close within 1 s (--shutdown-grace); exiting without waiting" in log, log
    assert "Traceback" not in log


def test_a_write_answered_503_that_then_landed_can_be_retried(minilm_artifact, tmp_path):
    """A write can time out (503) and still land; its retry failed with 'already in the store'. An add of the same
    records now succeeds, saying they were already stored."""
    db = tmp_path / "notes.db"
    server = ServeProcess(tmp_path, "--model", str(minilm_artifact), "--store", str(db), "--timeout", "1")
    body = {"ids": ["a", "b"], "vectors": _vectors(2), "texts": ["one", "two"], "metadata": [{"n": 1}, None]}
    assert server.request("GET", "/v1/stores/notes")[0] == 200  # the store has its settings before the lock
    holder = _hold_write_lock(db)
    release = threading.Timer(3, holder.rollback)
    release.start()
    try:
        status, _, reply = server.request("POST", "/v1/stores/notes/add", body)
        assert status == 503 and reply["error"]["code"] == "timeout"
        release.join()
        deadline = time.monotonic() + 60
        while server.request("GET", "/v1/stores/notes")[2]["count"] != 2:  # it landed once the lock was gone
            assert time.monotonic() < deadline
            time.sleep(0.2)
        status, _, reply = server.request("POST", "/v1/stores/notes/add", body)  # the client's retry
        assert status == 200 and reply == {"written": 0, "count": 2, "already_stored": 2}
        status, _, reply = server.request("POST", "/v1/stores/notes/add", {**body, "texts": ["one", "TWO"]})
        assert status == 400 and "ids already in the store: ['b'] with another text" in reply["error"]["message"]
        assert server.stop() in (0, -signal.SIGTERM)
    finally:
        release.join()
        holder.close()
        _kill(server)


def test_a_damaged_store_gets_an_error_naming_the_file(minilm_artifact, tmp_path):
    """A corrupt page came back as '500 internal error: DatabaseError', naming neither the file nor the fix."""
    db = tmp_path / "notes.db"
    with VectorStore(db, dim=384) as store:
        store.add([f"n{i}" for i in range(2000)], np.asarray(_vectors(2000), dtype=np.float32))
    with open(db, "r+b") as f:  # a page in the middle of the records' b-tree, overwritten
        size = f.seek(0, os.SEEK_END)
        f.seek(size // 2 // 4096 * 4096)
        f.write(b"\xa5" * 4096)
    server = ServeProcess(tmp_path, "--model", str(minilm_artifact), "--store", str(db))
    try:
        status, _, reply = server.request("POST", "/v1/stores/notes/search", {"query": _vectors(1)[0]})
        assert status == 500 and reply["error"]["code"] == "store_damaged", reply
        assert f"store 'notes' ({db}) is damaged: database disk image is malformed" in reply["error"]["message"]
        assert server.request("GET", "/health")[0] == 200
        assert server.stop() in (0, -signal.SIGTERM)
    finally:
        _kill(server)
