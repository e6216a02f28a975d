#!/usr/bin/env bash
# The bundle's binaries on a simulated bare GPU machine: in a private mount namespace, the
# libraries that machine lacks (OpenBLAS, libgfortran, libquadmath, yaml-cpp, libyaml, fmt,
# libstdc++, the shared CUDA runtime) are hidden, LD_LIBRARY_PATH is emptied, and the
# binaries unpacked from the bundle must still start: cuda_conformance (exit 77 without a
# GPU), a CPU parity run (OpenBLAS, fmt), a short CPU training run (yaml-cpp), and the
# default build, where there is one, must fail to start (the hiding works).
# Usage: bare_machine.sh BUNDLE_DIR [DEFAULT_BUILD_MOEGRAD]. Needs root and unshare(1); exit
# 77 without them. Run by scripts/gpu-bundle.sh.
set -u
bundle=$(cd "$1" && pwd)
default_moegrad=${2:-}
if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
  echo "bare_machine.sh: needs root and unshare -m: not run"
  exit 77
fi
cd "$(dirname "$0")/../.."
exec unshare -m bash -s "$bundle" "$default_moegrad" <<'EOF'
set -u
bundle=$1 default_moegrad=$2
lib=/usr/lib/x86_64-linux-gnu
hide() { for f in "$@"; do [ -e "$f" ] && mount --bind /dev/null "$(readlink -f "$f")"; done; }
[ -d $lib/openblas-pthread ] && mount -t tmpfs none $lib/openblas-pthread
hide $lib/libopenblas.so.0 $lib/libgfortran.so.5 $lib/libquadmath.so.0 $lib/libyaml-cpp.so.0.7 \
     $lib/libyaml-0.so.2 $lib/libfmt.so.9 $lib/libstdc++.so.6 /usr/local/cuda/lib64/libcudart.so.*
unset LD_LIBRARY_PATH
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for b in moegrad cuda_conformance; do xz -dc "$bundle/$b.xz" >"$bin/$b" && chmod +x "$bin/$b"; done
failed=0
expect() {  # expect WHAT CODES COMMAND...: runs it, passes if its exit code is one of CODES
  local what=$1 codes=$2
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  if [[ " $codes " == *" $rc "* ]]; then echo "ok   $what (exit $rc)"
  else echo "FAIL $what (exit $rc): $(printf '%s' "$out" | tail -n 3)"; failed=1; fi
}
if [ -n "$default_moegrad" ] && [ -x "$default_moegrad" ]; then
  expect "the default build cannot start with the libraries hidden" "127" "$default_moegrad" --help
fi
expect "cuda_conformance starts" "0 77" "$bin/cuda_conformance"
expect "CPU parity (static OpenBLAS, fmt)" "0" "$bin/moegrad" parity tests/fixtures/moe_train.safetensors --dtype float32
work=$(mktemp -d)
expect "a short CPU training run (yaml-cpp)" "0" "$bin/moegrad" train configs/toy_moe.yaml --out "$work/run" \
  --set train.steps=3 --set train.eval_interval=3 --set train.checkpoint_interval=3 --set optim.schedule.warmup_steps=1
rm -rf "$work"
echo "--- ldd with the libraries hidden"
ldd "$bin/moegrad"
exit $failed
EOF
