#!/usr/bin/env bash
# scripts/gpu-check.sh against a fake GPU machine: stand-ins for nvidia-smi, the bundle's
# binaries and PyTorch that print what the real ones print on a GPU, so that the check's
# bookkeeping (verdicts, the refusal of CPU or emulated results, timeouts, the budget, the
# table, the exit code) is tested without one. Says nothing about the GPU itself.
# Usage: fake_gpu.sh SOURCE_DIR
# Exit 77 (ctest: Not Run) without the tools the check itself uses.
set -u
for tool in xz sha256sum python3 timeout; do
  command -v "$tool" >/dev/null || { echo "fake_gpu.sh: no $tool here"; exit 77; }
done
src=$(cd "${1:-.}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

mkdir -p "$work/bin" "$work/bundle"
# The fakes read FAKE_* from the environment: which step misbehaves, and how.
cat >"$work/bin/nvidia-smi" <<'EOF'
#!/bin/sh
echo "0, Fake H200, 580.00, 143771 MiB, 9.0"
EOF
cat >"$work/moegrad" <<'EOF'
#!/bin/bash
# .nv_fatbin (gpu-check.sh looks for nvcc's device code section by name)
case "$1" in
  parity) echo "24 of 24 fixtures passed (fake)";;
  train) echo "done: 30 steps, final train loss 1.25 (main 1.2), eval main loss 1.5, 1s";;
  bench)
    size=$(echo "$*" | sed -n 's/.*--size \([A-Z]*\).*/\1/p')
    [ "${FAKE_HANG:-}" = "moegrad_$size" ] && sleep 60
    device=cuda:0
    [ "${FAKE_CPU:-}" = "moegrad_$size" ] && device=cpu
    echo "{\"bench\": \"moegrad_toy_moe_step\", \"b\": 8, \"n\": 128, \"d\": 64, \"E\": 4, \"device\": \"$device\", \"step_ms\": {\"median\": 2.0, \"min\": 1.9, \"max\": 2.2}, \"host_reads_per_step\": 1.0}";;
esac
EOF
cat >"$work/cuda_conformance" <<'EOF'
#!/bin/bash
# .nv_fatbin
if [ -n "${FAKE_EMULATED:-}" ]; then echo "cuda_conformance: EMULATED device (kernels run on the CPU)"
else echo "cuda_conformance: CUDA device 0"; fi
echo "All tests passed (100 assertions in 10 test cases)"
EOF
cat >"$work/moegrad_dist_tests" <<'EOF'
#!/bin/bash
# .nv_fatbin
[ "$1" = --nccl ] || exit 2
case ":${LD_LIBRARY_PATH:-}:" in *fake-nccl*) ;; *) echo "error while loading shared libraries: libnccl.so.2"; exit 127;; esac
[ -z "${FAKE_NCCL_HOST:-}" ] && echo "moegrad_dist_tests: NCCL on CUDA device 0, rank 0 of 1"
echo "All tests passed (50 assertions in 8 test cases)"
EOF
cat >"$work/bundle/torch_toy_moe.py" <<'EOF'
# a stand-in: the fake python below answers for it
EOF
cat >"$work/bin/fakepython" <<EOF
#!/bin/bash
case "\$1" in
  -c) echo '{"torch": "fake", "cuda": "13.0", "available": true, "gpu": "Fake H200"}';;
  *torch_toy_moe.py)
    impl=eager; case "\$*" in *--compile*) impl=compile;; esac
    ms=4.0; [ \$impl = compile ] && ms=3.0
    echo "{\"bench\": \"torch_toy_moe_step\", \"b\": 8, \"n\": 128, \"d\": 64, \"E\": 4, \"device\": \"cuda\", \"gpu\": \"Fake H200\", \"step_ms\": {\"median\": \$ms}, \"peak_gpu_mib\": 10.0}";;
  *) exec python3 "\$@";;
esac
EOF
chmod +x "$work/bin/"* "$work/moegrad" "$work/cuda_conformance" "$work/moegrad_dist_tests"
for bin in moegrad cuda_conformance moegrad_dist_tests; do xz -c "$work/$bin" >"$work/bundle/$bin.xz"; done
{
  echo "commit: fake"
  echo "MOEGRAD_CUDA=ON"
  echo "MOEGRAD_CUDA_EMU=OFF"
  echo "needed: libcublas.so.13 libc.so.6"
  for bin in moegrad cuda_conformance moegrad_dist_tests; do
    echo "$bin: sha256 $(sha256sum "$work/$bin" | cut -d' ' -f1)"
  done
} >"$work/bundle/BUILD_INFO"
# The fake cuBLAS folder: gpu-check.sh only needs the soname to be there.
mkdir -p "$work/cublas" && touch "$work/cublas/libcublas.so.13"
mkdir -p "$work/fake-nccl" && touch "$work/fake-nccl/libnccl.so.2"

check() {  # check NAME EXPECTED_EXIT [ENV=VALUE...]: runs the check, leaves $out
  local name=$1 expected=$2
  shift 2
  out=$work/out-$name
  env PATH="$work/bin:$PATH" BUNDLE="$work/bundle" PYTHON="$work/bin/fakepython" CUBLAS_DIR="$work/cublas" \
    NCCL_DIR="$work/fake-nccl" \
    OUT="$out" "$@" bash "$src/scripts/gpu-check.sh" >"$work/$name.log" 2>&1
  local rc=$?
  [ "$rc" -eq "$expected" ] || fail "$name: exit $rc, expected $expected (log: $(tail -n 3 "$work/$name.log"))"
}
has() { grep -q -e "$2" "$out/gpu-summary.md" || fail "$1: the summary lacks '$2'"; }
lacks() { ! grep -q -e "$2" "$out/gpu-summary.md" || fail "$1: the summary has '$2'"; }

check all_pass 0
has all_pass '| conformance | PASS | .* | All tests passed (100 assertions in 10 test cases)'
has all_pass '| parity_float32_indexed | PASS |'
has all_pass '| toy_matches_cpu | PASS |'
has all_pass '| nccl_collectives | PASS | .* | All tests passed (50 assertions in 8 test cases) .*libnccl from '
has all_pass '| bench_XL_torch_compile | PASS |'
has all_pass '| XL | 8, 128, 64, 4 | 2.00 | 4.00 | 3.00 | 0.50 | 0.67 | 1 | 10 / 10 |'
has all_pass 'GPU: 0, Fake H200'
lacks all_pass 'FAIL\|not run'
[ "$(wc -l <"$out/gpu-bench.jsonl")" -eq 12 ] || fail "all_pass: gpu-bench.jsonl has $(wc -l <"$out/gpu-bench.jsonl") lines, not 12"

# A result from the CPU is never a GPU result; an emulated suite neither.
check cpu_result 1 FAKE_CPU=moegrad_M FAKE_EMULATED=1
has cpu_result '| bench_M_moegrad | FAIL | .* | the result does not come from a CUDA device'
has cpu_result '| conformance | FAIL | .* | the suite ran on an EMULATED device'
has cpu_result '| M | 8, 128, 64, 4 | - | 4.00 |'
has cpu_result '| bench_L_moegrad | PASS |'

# The communicator tests must say they ran on a device; without a libnccl they do not run.
check nccl_on_host 1 FAKE_NCCL_HOST=1
has nccl_on_host '| nccl_collectives | FAIL | .* | exit 0 without naming a CUDA device'
# Where this machine has a libnccl of its own, gpu-check.sh finds it: checked only elsewhere.
if ! ls /usr/local/cuda/lib64/libnccl.so.2 /usr/local/cuda/lib/libnccl.so.2 \
       /usr/local/cuda/targets/x86_64-linux/lib/libnccl.so.2 >/dev/null 2>&1 &&
   ! ldconfig -p 2>/dev/null | grep -q libnccl.so.2; then
  rm "$work/fake-nccl/libnccl.so.2"
  check no_nccl 77 CUDA_HOME=/nonexistent
  has no_nccl '| nccl_collectives | not run | 0 | libnccl.so.2 not found'
  touch "$work/fake-nccl/libnccl.so.2"
fi

# A hanging step is cut at its timeout, and the check goes on; a spent budget skips the rest.
check hang 1 FAKE_HANG=moegrad_S GPU_CHECK_BUDGET_S=20
has hang '| bench_S_moegrad | FAIL | .* | timed out'
has hang "| bench_M_moegrad | not run | 0 | the check's 20s budget is spent"

# An emulated or missing bundle, and a cuBLAS not found, fail the check without running it.
sed -i 's/MOEGRAD_CUDA_EMU=OFF/MOEGRAD_CUDA_EMU=ON/' "$work/bundle/BUILD_INFO"
check emulated_bundle 1
has emulated_bundle '| bundle | FAIL | 0 | the bundle is not the nvcc CUDA build'
has emulated_bundle '| parity_float64_dense | not run |'
sed -i 's/MOEGRAD_CUDA_EMU=ON/MOEGRAD_CUDA_EMU=OFF/' "$work/bundle/BUILD_INFO"
# Where this machine has a cuBLAS of its own, gpu-check.sh finds it: checked only elsewhere.
if [ ! -e /usr/local/cuda/lib64/libcublas.so.13 ] && [ ! -e /usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.13 ] &&
   ! ldconfig -p 2>/dev/null | grep -q libcublas.so.13; then
  rm "$work/cublas/libcublas.so.13"
  check no_cublas 1 CUDA_HOME=/nonexistent
  has no_cublas 'libcublas.so.13 not found on this machine'
fi

[ "$failures" -eq 0 ] && echo "gpu-check.sh on a fake GPU machine: all cases as expected"
exit $((failures > 0))
