#!/bin/sh
# A short run of toy_moe and of every routing recipe (configs/routing_*.yaml) on the cuda
# device ends where the same run on the cpu ends: the same routing draws (made on the
# host), the same kernels' arithmetic; only matmul sums in another order, so the losses
# agree to a relative 1e-4, not bitwise.
# Usage: toy_matches_cpu.sh MOEGRAD SOURCE_DIR. Exit 77 without a CUDA device.
set -u
moegrad=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() {
  "$moegrad" train "$2" --out "$work/$1-$(basename "$2" .yaml)" --device "$1" --set train.steps=30 \
    --set train.eval_interval=30 --set train.checkpoint_interval=30 --set optim.schedule.warmup_steps=5 \
    --set model.dim=32 --set train.batch_size=64 2>&1
}
loss() { printf '%s\n' "$1" | sed -n 's/^done: .* final train loss \([^ ,]*\)[^,]*, eval main loss \([^,]*\).*$/\1 \2/p'; }
failed=0
for config in "$2/configs/toy_moe.yaml" "$2"/configs/routing_*.yaml; do
  cuda=$(run cuda "$config")
  rc=$?
  if [ "$rc" -eq 2 ] && printf '%s' "$cuda" | grep -q -e "no CUDA device found" -e "built without CUDA"; then exit 77; fi
  [ "$rc" -eq 0 ] || { printf '%s: cuda run failed (%s):\n%s\n' "$config" "$rc" "$cuda"; exit 1; }
  cpu=$(run cpu "$config") || { printf '%s: cpu run failed:\n%s\n' "$config" "$cpu"; exit 1; }
  printf '%s\n  cpu:  %s\n  cuda: %s\n' "$(basename "$config")" "$(loss "$cpu")" "$(loss "$cuda")"
  printf '%s %s\n' "$(loss "$cpu")" "$(loss "$cuda")" | awk '
    function close_to(a, b) { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; return d <= 1e-4 * (1 + m) }
    NF != 4 { print "  could not read the losses"; exit 1 }
    !(close_to($3, $1) && close_to($4, $2)) { print "  cuda and cpu runs differ"; exit 1 }' || failed=1
done
exit $failed
