#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a fixed time on
# a scratch copy of its seed corpus, with its dictionary (tests/fuzz/dict/), two at a time
# on the two cores. The times are set so that each target passes a million executions on
# these machines; FUZZ_SECONDS overrides
# all three. Prints the executions per target; fails on any crash, leak, timeout or
# sanitizer report (libFuzzer saves the input as crash-*/leak-*/timeout-* in
# build-fuzz/findings/<target>/, to be turned into a test under tests/fuzz/regressions/).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-fuzz
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 -DMOEGRAD_FUZZ=ON >/dev/null
cmake --build "$build" -j "$(nproc)"

# corpus  target  seconds  max_len
run_target() {
  local corpus=$1 target=$2 seconds=${FUZZ_SECONDS:-$3} max_len=$4
  local work="$build/corpus/$corpus" findings="$build/findings/$target" log="$build/$target.log"
  mkdir -p "$work" "$findings"
  if ASAN_OPTIONS=detect_leaks=1 "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len="$max_len" -dict="tests/fuzz/dict/$corpus.dict" -print_final_stats=1 -artifact_prefix="$findings/" \
      "$work" "tests/fuzz/corpus/$corpus" \
      >"$log" 2>&1; then
    echo ok >"$build/$target.result"
  else
    echo FAILED >"$build/$target.result"
  fi
}

echo "fuzz: config (YAML loader) in one lane, safetensors then parity fixtures in the other"
run_target config fuzz_config 1000 4096 &
lane=$!
run_target safetensors fuzz_safetensors 150 65536
run_target parity_fixture fuzz_parity_fixture 300 65536
wait $lane

status=0
for target in fuzz_safetensors fuzz_config fuzz_parity_fixture; do
  result=$(cat "$build/$target.result")
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$build/$target.log" | grep -o '[0-9]*$' || echo "?")
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$build/$target.log" | grep -o '[0-9]*$' || echo "?")
  echo "$target: $result, $runs executions, peak RSS ${rss} MB (log: $build/$target.log)"
  [ "$result" = ok ] || status=1
done
exit $status
