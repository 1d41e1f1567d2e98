"""Shared fixtures: all-MiniLM-L6-v2 converted once per test session, real data from ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDLITE_DATA", REPO.parent / "shared" / "data"))
_THROWAWAY_HOME = pytest.StashKey[str]()


def pytest_configure(config):
    # Everything the tests convert lands in one throwaway cache, shared by the whole session.
    if "EMBEDLITE_HOME" not in os.environ:
        import tempfile

        config.stash[_THROWAWAY_HOME] = os.environ["EMBEDLITE_HOME"] = tempfile.mkdtemp(prefix="embedlite-test-home-")


def pytest_unconfigure(config):
    # A few hundred MB a session: left behind, they filled the disk of a machine that runs the suite often.
    home = config.stash.get(_THROWAWAY_HOME, None)
    if home is not None:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
        os.environ.pop("EMBEDLITE_HOME", None)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "stsb" / "sts-test.csv").is_file():
        pytest.fail(f"shared data not found at {DATA}; set EMBEDLITE_DATA")
    return DATA


@pytest.fixture(scope="session")
def minilm_artifact() -> Path:
    """all-MiniLM-L6-v2 converted to fp32 ONNX by name (the first-use conversion users get)."""
    from embedlite.models import resolve

    return resolve("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def embedder(minilm_artifact):
    from embedlite import Embedder

    return Embedder(minilm_artifact, device="cpu")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 as a sentence-transformers directory (unpacked from its package, sha256-checked)."""
    from embedlite.models import source_dir

    return source_dir("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def st_minilm(minilm_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu")


@pytest.fixture(scope="session")
def sts_slice(data_dir):
    from embedlite.evaluation import load_sts

    return load_sts(data_dir / "stsb" / "sts-test.csv", limit=300)


@pytest.fixture(scope="session")
def gemma_dir(data_dir, tmp_path_factory) -> Path:
    """A random-weight EmbeddingGemma laid out like google/embeddinggemma-300m, at the tiny size."""
    from fixtures.embeddinggemma import build_embeddinggemma

    return build_embeddinggemma(
        tmp_path_factory.mktemp("gemma") / "embeddinggemma-tiny",
        "tiny",
        data_dir / "gemma3-tokenizer" / "tokenizer.json",
    )


@pytest.fixture(scope="session")
def st_gemma(gemma_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gemma_dir), device="cpu")
