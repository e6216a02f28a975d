#!/bin/sh
# The kind's own keys are validated and shown by check-config like moegrad's: resolved,
# range-checked with the key named (exit 2), and left out for other kinds.
# Usage: check_config.sh BINARY CONFIG
set -eu
binary=$1 config=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
resolved=$("$binary" check-config "$config")
echo "$resolved" | grep -q "kind: gated_mlp"
echo "$resolved" | grep -q "hidden: 32"
echo "$resolved" | grep -q "gate_init: -1"
status=0
"$binary" check-config "$config" --set model.hidden=0 2> "$scratch/err.txt" || status=$?
test "$status" -eq 2 && grep -q "model.hidden" "$scratch/err.txt" && grep -q "\[1, 4096\]" "$scratch/err.txt"
status=0
"$binary" check-config "$config" --set model.kind=mlp_moe 2> /dev/null > "$scratch/other.txt" || status=$?
test "$status" -eq 0 && ! grep -q "gate_init" "$scratch/other.txt"
"$binary" config-docs | grep -q "gate_init"
echo "check-config: gated_mlp's keys resolved, range-checked and scoped to their kind"
