"""Shared by the benchmark scripts: where the data is read and where tables and plots are written."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data beside the clone
FORMATS = {"onnx": ("ONNX", "onnxruntime"), "tflite": ("TFLite", "LiteRT")}  # a manifest's format: its name, runtime


def gemma_replica() -> ModuleType:
    """fixtures/embeddinggemma.py, the random-weight EmbeddingGemma builder the tests use, loaded from its file
    (the repository root is not on a benchmark's import path, and is not put there)."""
    spec = importlib.util.spec_from_file_location("embedlite_fixtures_gemma", ROOT / "fixtures" / "embeddinggemma.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def default_model_label() -> str:
    """What embed() runs with no model named, e.g. "embedlite-small-v3-litert TFLite int8 on LiteRT" (tables name
    it, not assume it)."""
    import json

    from embedlite.models import default_artifact

    manifest = json.loads((default_artifact() / "manifest.json").read_text(encoding="utf-8"))
    kind, runtime = FORMATS[manifest["format"]]
    return f"{manifest['name']} {kind} {manifest['precision']} on {runtime}"


def write_markdown(name: str, lines: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (benchmarks run without a screen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def start_server(log: Path, args: list[str]):
    """`embedlite serve --port 0 ARGS` in a subprocess, stderr into `log`: (process, port) once it listens."""
    import re
    import subprocess
    import time

    proc = subprocess.Popen(
        [sys.executable, "-c", "from embedlite.cli import main; main()", "serve", "--port", "0", *args],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    deadline = time.monotonic() + 300
    while not (found := re.search(r" on http://127\.0\.0\.1:(\d+)", log.read_text())):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"the server did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return proc, int(found.group(1))
