"""An exclusive lock on an output path, so two commands never write the same output at once.

The lock is an OS file lock (flock; msvcrt on Windows) on `<output>.lock`, released by the OS when the process
ends, kill -9 included, so a lock is never left stale. Two `embed-file` runs on one output crashed the loser with
a traceback and, 2 times in 5, left an unreadable Parquet file from the run that exited 0.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import EmbedliteError


def lock_path(output: Path) -> Path:
    return output.with_name(output.name + ".lock")


@contextlib.contextmanager
def exclusive(output: Path, what: str) -> Iterator[None]:
    """Hold the lock of `output` for the block, or fail at once naming who holds it."""
    path = lock_path(Path(output))
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.lseek(fd, 0, os.SEEK_SET)
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise EmbedliteError(
                f"{output} is being written by {holder} ({what}); wait for it to finish, or write to another output"
            )
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # locked a file its holder had just removed: take the lock of the one there now
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()}".encode())
        try:
            yield
        finally:
            path.unlink(missing_ok=True)  # removed while held: a run that opened it before sees it gone and retries
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
