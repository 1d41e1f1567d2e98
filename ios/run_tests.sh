#!/usr/bin/env bash
# Build the Swift package EmbedliteKit and run its XCTest tests against real data; ends with XCTest's
# "Executed N tests, with N failures" line.
# Usage: ios/run_tests.sh [BUNDLE_DIR GEMMA_BUNDLE_DIR]
#   BUNDLE_DIR: from `embedlite export all-MiniLM-L6-v2 --target ios --parity-texts ../shared/data/stsb/sts-test.csv`;
#   GEMMA_BUNDLE_DIR: the same for the EmbeddingGemma replica (fixtures/embeddinggemma.py). By default the Kotlin
#   runner's android_demo/build/bundle and bundle-gemma (the same bundles), made by android_demo/core/make_bundles.sh
#   when missing.
# Needs: swift 6 on PATH, and the repository's Python environment active (embedlite, tokenizers, and the
# ai-edge-litert wheel, whose libLiteRt.so the LiteRT tests load). Data: ${EMBEDLITE_DATA:-../shared/data}.
# EMBEDLITE_SWIFT_CONFIG=release builds optimised (slower to build, faster tests); debug is the default.
set -euo pipefail
ios=$(cd "$(dirname "$0")" && pwd)
data="${EMBEDLITE_DATA:-$ios/../../shared/data}"
bundle="${1:-$ios/../android_demo/build/bundle}"
gemma_bundle="${2:-$ios/../android_demo/build/bundle-gemma}"
config="${EMBEDLITE_SWIFT_CONFIG:-debug}"

if ! command -v swift >/dev/null; then
  echo "run_tests.sh needs a Swift 6 toolchain (swift on PATH): https://www.swift.org/install/linux/" >&2
  exit 1
fi
if [ $# -eq 0 ]; then
  "$ios/../android_demo/core/make_bundles.sh"
fi

# expected token ids from Python `tokenizers`, remade when the bundle, the script or the tokenizer changed
fixtures="$ios/build/fixtures"
script="$ios/scripts/make_tokenizer_fixtures.py"
gemma="$data/gemma3-tokenizer/tokenizer.json"
if [ ! -f "$fixtures/expected.json" ] || [ "$script" -nt "$fixtures/expected.json" ] \
    || [ "$bundle/parity.json" -nt "$fixtures/expected.json" ] || [ "$gemma" -nt "$fixtures/expected.json" ]; then
  python "$script" --bundle "$bundle" --gemma "$gemma" -o "$fixtures" >&2
fi

EMBEDLITE_IOS_BUNDLE=$(cd "$bundle" && pwd)
EMBEDLITE_IOS_GEMMA_BUNDLE=$(cd "$gemma_bundle" && pwd)
litert_dir=$(python -c 'import ai_edge_litert, os; print(os.path.dirname(ai_edge_litert.__file__))')
EMBEDLITE_LITERT_LIB="$litert_dir/libLiteRt.so"
export EMBEDLITE_IOS_BUNDLE EMBEDLITE_IOS_GEMMA_BUNDLE EMBEDLITE_LITERT_LIB EMBEDLITE_TOKENIZER_FIXTURES="$fixtures"

cd "$ios"
flags=(-c "$config")
if [ "$config" = release ]; then flags+=(-Xswiftc -enable-testing); fi  # the tests use internal helpers
mkdir -p build
if ! swift build --build-tests "${flags[@]}" >build/swift-build.log 2>&1; then
  grep -E "error" build/swift-build.log >&2 || tail -20 build/swift-build.log >&2
  exit 1
fi
# per-test progress and LiteRT's own logging are left out; failures, measured figures and the summaries stay
swift test --skip-build "${flags[@]}" --disable-swift-testing 2>&1 \
  | grep -vE "^Test (Case|Suite) '.*' (started|passed)|^(INFO|WARNING): |^ERROR: Model provided|^\[[0-9]+/[0-9]+\]"
