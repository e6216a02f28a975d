#!/usr/bin/env bash
# One rank fails an assertion while the other waits in a barrier ([deliberate_failure] in
# test_collectives.cpp): the job must exit non-zero, say which rank failed, and end well
# before ctest's timeout (a hang would show as ~120 s here).
set -uo pipefail
here=$(dirname "$0")
start=$(date +%s)
out=$(bash "$here/run_ranks.sh" "$1" "$2" "[deliberate_failure]" 2>&1)
rc=$?
elapsed=$(( $(date +%s) - start ))
echo "$out"
echo "exit $rc after ${elapsed}s"
[ "$rc" -eq 77 ] && exit 77
if [ "$rc" -eq 0 ]; then echo "FAIL: the job passed although a rank failed"; exit 1; fi
if [ "$elapsed" -gt 30 ]; then echo "FAIL: took ${elapsed}s: the waiting rank hung"; exit 1; fi
if ! grep -q "aborting every rank: .*: rank [0-9]*: " <<<"$out"; then echo "FAIL: no abort message naming the failing rank"; exit 1; fi
echo "OK: the failing rank ended the job"
