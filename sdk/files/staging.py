"""A staging folder for an output built in steps and moved into place at the end.

The folder holds an OS file lock (embedlite.files.lock) from before it exists until the block ends, and the OS
drops that lock when its process ends, kill -9 included: the next build in the same place removes the folders whose
lock it can take (their builder is gone) and leaves a running one's alone. An export killed mid-way left 32 MB of an
EmbeddingGemma export beside its output for good (over a GB near its end).
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from ..errors import EmbedliteError
from .lock import exclusive


@contextlib.contextmanager
def staging_folder(parent: Path, prefix: str, what: str) -> Iterator[Path]:
    """A new folder `parent/<prefix><random>`, locked for the block and removed at its end (move the output out of
    it, or rename the folder itself, inside the block). Folders of the same prefix whose lock nobody holds are
    removed first."""
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.glob(f"{prefix}*"):
        if old.is_dir():
            with contextlib.suppress(EmbedliteError), exclusive(old, what):  # held: that build is running
                shutil.rmtree(old, ignore_errors=True)
    staging = parent / f"{prefix}{uuid.uuid4().hex}"
    with exclusive(staging, what):  # taken before the folder exists: no scan sees it unlocked
        staging.mkdir()
        try:
            yield staging
        finally:  # what the block moved out of it is in place; the rest is scratch or a failed build
            shutil.rmtree(staging, ignore_errors=True)
