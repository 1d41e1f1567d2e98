"""What native libraries write on the process's stderr, held off the terminal: their C++ logging writes to file
descriptor 2 directly, past sys.stderr and the logging module."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_held() -> Iterator[None]:
    """File descriptor 2 into a temporary file for the block, written back there only if the block raises (so a
    failure keeps the native library's own words)."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to hold (a windowed process)
        yield
        return
    if sys.__stderr__ is not None:
        sys.__stderr__.flush()
    failed = True
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                held.seek(0)
                os.write(2, held.read())
