"""Progress bars only on a terminal: embedlite's own tqdm bars use disable=None; the libraries' bars follow."""

from __future__ import annotations

import os
import sys


def keep_library_bars_off_logs() -> None:
    """Off a terminal, switch off transformers' and huggingface_hub's own bars ("Loading weights", "Writing model
    shards"): they wrote a \\r line per model loaded or saved into logs. They read HF_HUB_DISABLE_PROGRESS_BARS when
    imported, and are switched off directly if already imported."""
    if sys.stderr.isatty():
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()
