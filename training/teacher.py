"""Teacher embeddings: computed once by the teacher's exported ONNX artifact (embedlite's own runtime, not
PyTorch) and cached, or read from a .npy."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from embedlite.errors import EmbedliteError

SAVE_EVERY = 8192  # texts embedded between cache saves


def teacher_embeddings(
    texts: list[str],
    teacher: Path | str | None = None,
    precomputed: Path | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    task: str | None = None,
) -> np.ndarray:
    """float32 (len(texts), dim), L2-normalised; `task`: a prompt of the teacher's manifest, read before each text."""
    if precomputed is not None:
        vectors = np.load(precomputed)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise EmbedliteError(
                f"{precomputed} holds shape {vectors.shape}; expected one row per text ({len(texts)} texts)"
            )
    else:
        vectors = _cached_embeddings(texts, teacher, cache_dir, progress, task)
    if not np.isfinite(vectors).all():
        raise EmbedliteError("teacher embeddings hold NaN or inf")
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _cached_embeddings(
    texts: list[str], teacher: Path | str | None, cache_dir: Path | None, progress: bool, task: str | None = None
) -> np.ndarray:
    """The teacher artifact's embeddings of `texts`; every text embedded is kept in a cache per teacher and
    prompt (vectors.npy + texts.json), so a new data mixture embeds only the texts not seen before, and another
    model or prompt never reads this one's vectors."""
    from embedlite.artifact import read_manifest
    from embedlite.embedder import Embedder
    from embedlite.models import home, resolve

    artifact = resolve(teacher)
    manifest = read_manifest(artifact, verify=False)
    if task is not None and task not in manifest.prompts:
        raise EmbedliteError(
            f"teacher_task {task!r} is not a task of {manifest.name}; its tasks: "
            f"{', '.join(manifest.prompts) or 'none'}"
        )
    prompt = manifest.prompts.get(task, "") if task else ""
    keyed = manifest.files if not prompt else {"files": manifest.files, "prompt": prompt}  # no prompt: as before
    key = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(cache_dir or home() / "teacher-cache") / key
    known: list[str] = json.loads((folder / "texts.json").read_text()) if (folder / "texts.json").is_file() else []
    stored = [np.load(folder / "vectors.npy")] if known else []  # one matrix, row i for known[i]
    row = {t: i for i, t in enumerate(known)}
    missing = list(dict.fromkeys(t for t in texts if t not in row))
    if missing:
        embedder = Embedder(artifact, device="cpu")
        folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(missing), SAVE_EVERY):  # saved as it goes: a long first run can be resumed
        chunk = missing[start : start + SAVE_EVERY]
        if progress:
            print(f"teacher embeddings: {start + len(chunk)} of {len(missing)} new texts", file=sys.stderr)
        fresh = embedder.embed(chunk, task=task, batch_size=64, show_progress=None if progress else False)
        stored = [np.concatenate([*stored, fresh])]
        row.update((t, len(known) + i) for i, t in enumerate(chunk))
        known += chunk
        np.save(folder / "vectors.tmp.npy", stored[0])  # vectors first: texts.json never lists rows it lacks
        (folder / "vectors.tmp.npy").replace(folder / "vectors.npy")
        (folder / "texts.tmp.json").write_text(json.dumps(known, ensure_ascii=False))
        (folder / "texts.tmp.json").replace(folder / "texts.json")
    if not stored:
        raise EmbedliteError("no texts to embed with the teacher")
    return stored[0][[row[t] for t in texts]]
