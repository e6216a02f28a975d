#!/bin/sh
# Trains the example's config with its own binary and checks that the train loss fell:
# the last logged loss below half the first. Usage: loss_falls.sh BINARY CONFIG
set -eu
binary=$1 config=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$binary" train "$config" --out "$out/run"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
         $col["kind"] == "train" { if (first == "") first = $col["loss"]; last = $col["loss"] }
         END { printf "train loss %s -> %s\n", first, last; exit !(first != "" && last < first / 2) }' \
    "$out/run/metrics.csv"
