#!/usr/bin/env bash
# Compile the Kotlin core and its tests and run them on the JVM against Android bundles; the models run through
# LiteRT's C API (libLiteRt.so from the ai-edge-litert wheel), called through JNA.
# Usage: android_demo/core/run_tests.sh [BUNDLE_DIR...]
#   BUNDLE_DIR: from `embedlite export MODEL --target android --parity-texts ../shared/data/stsb/sts-test.csv`.
#   With none given, make_bundles.sh makes three (in android_demo/build/, reused): all-MiniLM-L6-v2 (WordPiece), a
#   random-weight EmbeddingGemma replica with the Gemma 3 tokenizer (BPE; fixtures/embeddinggemma.py) and a
#   random-weight multilingual student with multilingual-e5-small's pruned tokenizer (Unigram;
#   fixtures/multilingual_student.py), and the expected token ids of the tokenizer tests (tokenizer-fixtures/,
#   which the Swift core's tests read too; EMBEDLITE_TOKENIZER_FIXTURES names another folder of them).
# Needs Java 17 and JNA (`.ci/run` installs both), and the Python environment with embedlite[test] active.
# Compiler: kotlinc 2.x from PATH when there is one; else JetBrains' compiler as shipped inside the PyPI wheel
# kotlin-jupyter-kernel (no npm needed), fetched once with `pip download --no-deps` into
# ${EMBEDLITE_TOOLS:-~/.cache/embedlite/tools} and reused from there.
set -euo pipefail
core=$(cd "$(dirname "$0")" && pwd)
build="$core/../build"
mkdir -p "$build"
KERNEL_VERSION=0.19.0.944
KERNEL_JAR=kotlin-jupyter-kernel-0.19.0-944-all.jar

if ! command -v java >/dev/null; then
  echo "run_tests.sh needs Java 17: apt-get install -y openjdk-17-jdk-headless" >&2
  exit 1
fi
jna="${EMBEDLITE_JNA_JAR:-/usr/share/java/jna.jar}"
if [ ! -f "$jna" ]; then
  echo "run_tests.sh needs JNA: apt-get install -y libjna-java (or set EMBEDLITE_JNA_JAR to a jna.jar)" >&2
  exit 1
fi
litert=$(python -c "import ai_edge_litert, pathlib; print(pathlib.Path(ai_edge_litert.__file__).parent / 'libLiteRt.so')")

if command -v kotlinc >/dev/null && kotlinc -version 2>&1 | grep -q "kotlinc-jvm 2\."; then
  stdlib="$(dirname "$(dirname "$(readlink -f "$(command -v kotlinc)")")")/lib/kotlin-stdlib.jar"
  compile() { kotlinc "$@"; }
else
  jars="${EMBEDLITE_TOOLS:-$HOME/.cache/embedlite/tools}/kotlin-jupyter-kernel-$KERNEL_VERSION/run_kotlin_kernel/jars"
  if [ ! -f "$jars/$KERNEL_JAR" ]; then
    echo "fetching the Kotlin compiler (PyPI kotlin-jupyter-kernel==$KERNEL_VERSION, ~80 MB) into $jars" >&2
    tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps -d "$tmp" "kotlin-jupyter-kernel==$KERNEL_VERSION" >&2
    python3 -m zipfile -e "$tmp"/kotlin_jupyter_kernel-*.whl "$tmp/wheel"
    mkdir -p "$(dirname "$jars")"
    rm -rf "$jars" && mv "$tmp/wheel/run_kotlin_kernel/jars" "$jars"
    rm -rf "$tmp"
  fi
  stdlib=$(ls "$jars"/kotlin-stdlib-2.*.jar)
  compiler_cp="$jars/$KERNEL_JAR:$stdlib:$(ls "$jars"/kotlin-reflect-*.jar):$(ls "$jars"/kotlin-script-runtime-*.jar)"
  compiler_cp="$compiler_cp:$jars/annotations-13.0.jar"
  compile() { java -cp "$compiler_cp" org.jetbrains.kotlin.cli.jvm.K2JVMCompiler -no-stdlib -no-reflect "$@"; }
fi

bundles=("$@")
if [ ${#bundles[@]} -eq 0 ]; then
  "$core/make_bundles.sh"
  bundles=("$build/bundle" "$build/bundle-gemma" "$build/bundle-e5")
fi
fixtures="${EMBEDLITE_TOKENIZER_FIXTURES:-$build/tokenizer-fixtures}"
fixture_flag=()
if [ -f "$fixtures/expected.json" ]; then
  fixture_flag=("-Dembedlite.tokenizerFixtures=$fixtures")
else
  echo "note: no $fixtures/expected.json (make_bundles.sh makes it): the tokenizer fixture tests are left out" >&2
fi

classes="$build/core-classes"
rm -rf "$classes"
compile -nowarn -jvm-target 17 -cp "$stdlib:$jna" "$core/src/main/kotlin" "$core/src/test/kotlin" -d "$classes" 2>&1 \
  | grep -v "^warning: " >&2 || true
java -Dembedlite.litert="$litert" "${fixture_flag[@]}" -cp "$classes:$stdlib:$jna:$core/src/test/resources" dev.embedlite.core.CoreTestsKt "${bundles[@]}" 2>&1 \
  | grep -v "^INFO: \|^WARNING: "  # LiteRT's start-up log lines
