"""The default model ships inside the package: it loads without torch, passes its checksums, and scores where its
model card says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

CARD = Path(__file__).resolve().parents[1] / "MODEL_CARD.md"


def card_figure() -> float:
    """The STS-B slice score MODEL_CARD.md states for the embedded artifact."""
    match = re.search(r"test suite's slice[^|]*\|\s*([01]\.\d{4})", CARD.read_text(encoding="utf-8"))
    assert match, "MODEL_CARD.md states no score on the test suite's STS-B slice"
    return float(match.group(1))


def test_embedded_default_is_an_int8_litert_artifact_that_passes_its_checksums():
    from embedlite.artifact import read_manifest
    from embedlite.models import DEFAULT_MODEL, EMBEDDED, resolve

    assert resolve(None) == resolve(DEFAULT_MODEL) == EMBEDDED != resolve("all-MiniLM-L6-v2")  # the peer: fp32
    manifest = read_manifest(EMBEDDED, verify=True)  # size and sha256 of every file
    assert manifest.name == DEFAULT_MODEL and manifest.format == "tflite" and manifest.precision == "int8"
    assert sum(f.stat().st_size for f in EMBEDDED.iterdir()) <= 30e6


def test_embedded_default_runs_on_a_thread_per_core_unless_told():
    """LiteRT's interpreter runs on one thread when not told (onnxruntime takes one per physical core): the default
    would have run at half speed on two cores."""
    from embedlite import Embedder
    from embedlite.runtimes.cpu import default_threads

    assert Embedder()._model.threads == default_threads() >= 1
    assert Embedder(threads=1)._model.threads == 1


def test_embedded_default_gives_a_text_the_same_vector_whatever_its_batch(sts_slice):
    """int8 with per-token activation scales (LiteRT's XNNPACK kernels): a text's vector does not depend on the
    texts embedded with it (the old per-tensor scales moved it by up to 0.07)."""
    import numpy as np

    import embedlite

    texts = sts_slice.sentences1[:64]
    together = embedlite.embed(texts)
    alone = np.vstack([embedlite.embed([t]) for t in texts[:8]])
    np.testing.assert_allclose(embedlite.embed(texts[::-1])[::-1], together, atol=1e-6)
    np.testing.assert_allclose(alone, together[:8], atol=1e-6)


def test_embedded_default_runs_without_torch_and_scores_as_its_card_says(data_dir):
    """In a fresh process where torch and transformers cannot be imported: the default embeds the first 300 STS-B
    test pairs (the slice the card names) to the card's Spearman."""
    code = (
        "import sys, json\n"
        "for name in ('torch', 'transformers', 'sentence_transformers'): sys.modules[name] = None\n"
        "import embedlite\n"
        "from embedlite.evaluation import load_sts, sts_spearman\n"
        f"data = load_sts({str(data_dir / 'stsb' / 'sts-test.csv')!r}, limit=300)\n"
        "print(json.dumps({'spearman': sts_spearman(embedlite.Embedder(), data), "
        "'shape': list(embedlite.embed(['x', 'y']).shape)}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["shape"] == [2, 384]
    assert out["spearman"] == pytest.approx(card_figure(), abs=5e-4)


def test_a_damaged_embedded_model_is_named(tmp_path):
    import shutil

    from embedlite import Embedder
    from embedlite.artifact import read_manifest
    from embedlite.errors import ArtifactError
    from embedlite.models import EMBEDDED

    copy = tmp_path / "default"
    shutil.copytree(EMBEDDED, copy)
    model = copy / read_manifest(copy, verify=False).model_file
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="sha256"):
        Embedder(copy)


def test_the_servers_batches_give_the_default_s_vectors(sts_slice):
    """The server merges concurrent requests into batches of other texts (embedlite.server.batcher): with the int8
    default each text still gets the vector it gets alone, within 1e-6."""
    import asyncio

    import numpy as np

    from embedlite import Embedder
    from embedlite.server.batcher import Batcher

    texts = sts_slice.sentences1[:24] + sts_slice.sentences2[:24]
    single = Embedder(threads=1)
    alone = np.vstack([single.embed([t]) for t in texts])

    async def served() -> list[np.ndarray]:
        batcher = Batcher(
            [Embedder(threads=1), Embedder(threads=1)], max_batch=16, max_queue=256, window=0.01, timeout=60
        )
        batcher.start()
        try:  # one request per text plus two of many texts, all at once
            singles = asyncio.gather(*(batcher.embed([t]) for t in texts))
            groups = asyncio.gather(batcher.embed(texts[:20]), batcher.embed(texts[20:]))
            one_by_one, (first, second) = await asyncio.gather(singles, groups)
            return [np.vstack([v for v, _ in one_by_one]), np.vstack([first[0], second[0]])]
        finally:
            await batcher.close()

    for vectors in asyncio.run(served()):
        np.testing.assert_allclose(vectors, alone, atol=1e-6, rtol=0)
