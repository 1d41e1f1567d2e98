"""Keep the converters' chatter (progress prints, deprecation warnings, log lines, native libraries' stderr) off the
user's terminal, and leave the process as it was found: logger levels, environment and file descriptors are restored
afterwards."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator
from types import ModuleType

from embedlite.errors import require
from embedlite.runtimes.native_stderr import native_stderr_held

LOGGERS = (
    "torch",
    "torch.onnx",
    "torch.export",
    "onnxscript",
    "onnxruntime.quantization",
    "absl",
    "sentence_transformers",
    "transformers",
)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence stdout, stderr, warnings and the converters' loggers inside the block; what native code wrote on
    the process's stderr is shown only if the block fails."""
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    tf_level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    try:
        for name in LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
            native_stderr_held(),  # the TFLite converter's absl lines ("Estimated count of arithmetic ops")
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if tf_level is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = tf_level


def require_sentence_transformers(extra: str, purpose: str) -> ModuleType:
    """torch and sentence-transformers, or an error naming the extra to install; imported quietly: importing
    sentence-transformers imports torchao, which logs its missing CUDA kernels and deprecations on every run."""
    require("torch", extra, purpose)
    with quiet():
        return require("sentence_transformers", extra, purpose)
