#!/bin/sh
# Runs a moegrad command that names --device cuda. Exits 77 (ctest: Not Run) when this
# machine has no CUDA device, so that a build without a GPU never reports these as passed.
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q -e "no CUDA device found" -e "built without CUDA"; then
  exit 77
fi
exit "$rc"
