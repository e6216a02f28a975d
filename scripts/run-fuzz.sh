#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for FUZZ_SECONDS on
# a scratch copy of its seed corpus. Prints the executions per target; fails on any crash,
# leak, timeout or sanitizer report (libFuzzer saves the input as crash-*/leak-*/timeout-*
# in build-fuzz/findings/<target>/ to turn into a regression test).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-120}
build=build-fuzz
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 -DMOEGRAD_FUZZ=ON >/dev/null
cmake --build "$build" -j "$(nproc)"

status=0
summary=()
for pair in safetensors:fuzz_safetensors config:fuzz_config parity_fixture:fuzz_parity_fixture; do
  corpus=${pair%%:*}
  target=${pair##*:}
  work="$build/corpus/$corpus"
  findings="$build/findings/$target"
  mkdir -p "$work" "$findings"
  log="$build/$target.log"
  echo "fuzz: $target for ${seconds}s (seeds: tests/fuzz/corpus/$corpus)"
  if ASAN_OPTIONS=detect_leaks=1 "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -artifact_prefix="$findings/" "$work" "tests/fuzz/corpus/$corpus" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  summary+=("$target: $result, $runs executions in ${seconds}s (log: $log)")
done
printf '%s\n' "${summary[@]}"
exit $status
