#!/usr/bin/env bash
# Make the two test bundles the Kotlin and Swift cores' tests run against, in android_demo/build/, unless a current
# one is there: all-MiniLM-L6-v2 (WordPiece) and a random-weight EmbeddingGemma replica with the Gemma 3 tokenizer
# (BPE, prompts with a title slot; fixtures/embeddinggemma.py), each with the parity.json of
# `embedlite export --target android --parity-texts ../shared/data/stsb/sts-test.csv`.
# Needs the Python environment with embedlite[test] active. Data: ${EMBEDLITE_DATA:-../shared/data}.
set -euo pipefail
core=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$core/../.." && pwd)
build="$core/../build"
data="${EMBEDLITE_DATA:-$repo/../shared/data}"
mkdir -p "$build"
current() { grep -q '"store_ties"' "$1/parity.json" 2>/dev/null; }  # made by this exporter, not an older one
if ! current "$build/bundle"; then
  rm -rf "$build/bundle"
  embedlite export all-MiniLM-L6-v2 --target android --parity-texts "$data/stsb/sts-test.csv" -o "$build/bundle" >&2
fi
if ! current "$build/bundle-gemma"; then
  rm -rf "$build/bundle-gemma" "$build/embeddinggemma-tiny"
  (cd "$repo" && python -c "import sys; from fixtures.embeddinggemma import build_embeddinggemma; \
    build_embeddinggemma(sys.argv[1], 'tiny', sys.argv[2])" "$build/embeddinggemma-tiny" "$data/gemma3-tokenizer/tokenizer.json")
  embedlite export "$build/embeddinggemma-tiny" --target android --parity-texts "$data/stsb/sts-test.csv" \
    -o "$build/bundle-gemma" >&2
fi
