#!/usr/bin/env bash
# Build the Swift package EmbedliteKit and run its XCTest tests against real data; ends with XCTest's
# "Executed N tests, with N failures" line.
# Usage: ios/run_tests.sh [BUNDLE_DIR GEMMA_BUNDLE_DIR E5_BUNDLE_DIR]
#   BUNDLE_DIR: from `embedlite export all-MiniLM-L6-v2 --target ios --parity-texts ../shared/data/stsb/sts-test.csv`;
#   GEMMA_BUNDLE_DIR: the same for the EmbeddingGemma replica (fixtures/embeddinggemma.py); E5_BUNDLE_DIR: the
#   multilingual student with a pruned multilingual-e5 tokenizer (fixtures/multilingual_student.py). By default the
#   Kotlin runner's android_demo/build/bundle, bundle-gemma and bundle-e5 (the same bundles), made by
#   android_demo/core/make_bundles.sh when missing, with the expected token ids both cores' tokenizer tests read
#   (android_demo/build/tokenizer-fixtures, or EMBEDLITE_TOKENIZER_FIXTURES).
# Needs: swift 6 on PATH, and the repository's Python environment active (embedlite, tokenizers, and the
# ai-edge-litert wheel, whose libLiteRt.so the LiteRT tests load). Data: ${EMBEDLITE_DATA:-../shared/data}, read by
# make_bundles.sh.
# EMBEDLITE_SWIFT_CONFIG=release builds optimised (slower to build, faster tests); debug is the default.
set -euo pipefail
ios=$(cd "$(dirname "$0")" && pwd)
bundle="${1:-$ios/../android_demo/build/bundle}"
gemma_bundle="${2:-$ios/../android_demo/build/bundle-gemma}"
e5_bundle="${3:-$ios/../android_demo/build/bundle-e5}"
config="${EMBEDLITE_SWIFT_CONFIG:-debug}"

if ! command -v swift >/dev/null; then
  echo "run_tests.sh needs a Swift 6 toolchain (swift on PATH): https://www.swift.org/install/linux/" >&2
  exit 1
fi
if [ $# -eq 0 ]; then
  "$ios/../android_demo/core/make_bundles.sh"
fi

# expected token ids from Python `tokenizers` (scripts/make_tokenizer_fixtures.py, run by make_bundles.sh)
fixtures="${EMBEDLITE_TOKENIZER_FIXTURES:-$ios/../android_demo/build/tokenizer-fixtures}"
if [ ! -f "$fixtures/expected.json" ]; then
  echo "run_tests.sh: $fixtures/expected.json is missing: android_demo/core/make_bundles.sh makes it" >&2
  exit 1
fi
fixtures=$(cd "$fixtures" && pwd)

EMBEDLITE_IOS_BUNDLE=$(cd "$bundle" && pwd)
EMBEDLITE_IOS_GEMMA_BUNDLE=$(cd "$gemma_bundle" && pwd)
EMBEDLITE_IOS_E5_BUNDLE=$(cd "$e5_bundle" && pwd)
litert_dir=$(python -c 'import ai_edge_litert, os; print(os.path.dirname(ai_edge_litert.__file__))')
EMBEDLITE_LITERT_LIB="$litert_dir/libLiteRt.so"
export EMBEDLITE_IOS_BUNDLE EMBEDLITE_IOS_GEMMA_BUNDLE EMBEDLITE_IOS_E5_BUNDLE EMBEDLITE_LITERT_LIB \
  EMBEDLITE_TOKENIZER_FIXTURES="$fixtures"

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
