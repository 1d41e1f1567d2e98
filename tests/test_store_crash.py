"""kill -9 of a writer in the middle of bulk inserts: every acknowledged record survives, no corruption.

CI runs 3 trials; EMBEDLITE_CRASH_TRIALS=20 python -m pytest tests/test_store_crash.py runs 20.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embedlite import VectorStore

WRITER = Path(__file__).with_name("store_writer.py")


def crash_trial(path: Path, seed: int, delay: float) -> tuple[int, int]:
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), "100000", "200", str(seed)], stdout=subprocess.PIPE, text=True
    )
    acknowledged = []
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(line.strip())
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate()
    acknowledged += rest.split()  # printed before the kill landed: acknowledged too
    with VectorStore(path) as store:
        assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        found = store.get(acknowledged)
        assert all(r is not None for r in found), "an acknowledged record was lost"
        count = store.count()
        assert count % 200 == 0, "a batch landed in part"
        assert len(store.search([1.0] * 32, k=5)) == 5
    return len(acknowledged), count


@pytest.mark.parametrize("trial", range(int(os.environ.get("EMBEDLITE_CRASH_TRIALS", "3"))))
def test_kill_during_bulk_insert(tmp_path, trial):
    path = tmp_path / "crash.db"
    VectorStore(path, dim=32).close()
    acked, count = crash_trial(path, seed=trial, delay=1.5 + (trial % 5) * 0.7)
    assert acked > 0 and count >= acked * 200  # every acknowledged batch, whole
