#!/usr/bin/env bash
# Compile the Kotlin core and its tests with kotlinc and run them on the JVM against an Android bundle.
# Usage: android_demo/core/run_tests.sh [BUNDLE_DIR]
#   BUNDLE_DIR: from `embedlite export default --target android --parity-texts ../shared/data/stsb/sts-test.csv`;
#   made here (in android_demo/build/bundle) when not given. kotlinc 2.x is taken from PATH, else installed from
#   the npm package kotlin-compiler into android_demo/build/kotlin.
set -euo pipefail
core=$(cd "$(dirname "$0")" && pwd)
build="$core/../build"
mkdir -p "$build"
KOTLIN_VERSION=2.4.20

if ! command -v java >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing a Java 17 runtime (apt)" >&2
  apt-get update -qq >&2 && apt-get install -y -qq openjdk-17-jdk-headless >&2
fi
kotlin_home=""
if command -v kotlinc >/dev/null && kotlinc -version 2>&1 | grep -q "kotlinc-jvm 2\."; then
  kotlin_home=$(dirname "$(dirname "$(readlink -f "$(command -v kotlinc)")")")
else
  kotlin_home="$build/kotlin/node_modules/kotlin-compiler"
  if [ ! -x "$kotlin_home/bin/kotlinc" ]; then
    echo "installing kotlin-compiler@$KOTLIN_VERSION from npm into $build/kotlin" >&2
    npm install --silent --no-audit --no-fund --prefix "$build/kotlin" "kotlin-compiler@$KOTLIN_VERSION" >&2
  fi
fi

bundle="${1:-$build/bundle}"
if [ ! -f "$bundle/parity.json" ]; then
  data="${EMBEDLITE_DATA:-$core/../../../shared/data}"
  rm -rf "$bundle"
  embedlite export default --target android --parity-texts "$data/stsb/sts-test.csv" -o "$bundle" >&2
fi

classes="$build/core-classes"
rm -rf "$classes"
"$kotlin_home/bin/kotlinc" -nowarn -jvm-target 17 -cp "$kotlin_home/lib/kotlin-test.jar" \
  "$core/src/main/kotlin" "$core/src/test/kotlin" -d "$classes" 2>&1 | grep -v "^warning: " >&2 || true
java -cp "$classes:$kotlin_home/lib/kotlin-stdlib.jar:$kotlin_home/lib/kotlin-test.jar" \
  dev.embedlite.core.CoreTestsKt "$bundle"
