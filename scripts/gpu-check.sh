#!/usr/bin/env bash
# The one-command check on a machine with a CUDA GPU, run from the repository root with the
# bundle of scripts/gpu-bundle.sh carried (bench/README.md, "On a GPU"):
#   nvidia-smi; the conformance suite (plain, then synchronised with no block cache); every
#   parity fixture on --device cuda in float64 and float32 on both dispatch paths; a toy run
#   on cuda against the same run on the cpu; the communicator tests on device tensors through
#   NCCL, one rank; `moegrad bench --device cuda` at S, M, L and XL,
#   each beside torch_toy_moe.py --device cuda, eager and --compile.
# Writes under $OUT (default ./gpu-out): gpu-summary.md (the results and a table of step
# medians), gpu-check.log (every step's output), gpu-bench.jsonl (the bench JSON lines).
# Every step has a timeout and the whole check a budget (GPU_CHECK_BUDGET_S, default 450 s);
# a step that fails, times out or cannot run is recorded and the next one runs. A step counts
# as run on the GPU only when the build is the real CUDA one and its own output says so.
# Exit: 0 every step passed; 1 a step failed or timed out; 77 none failed, but some did not
# run (no CUDA device, no PyTorch, the budget spent).
# Environment: OUT, BUNDLE (default build-gpu/bundle), PYTHON (default python3),
# GPU_CHECK_BUDGET_S, CUBLAS_DIR (a folder holding libcublas.so.N, if not found by itself),
# NCCL_DIR (the same for libnccl.so.2).
set -u
cd "$(dirname "$0")/.."

OUT=${OUT:-./gpu-out}
BUNDLE=${BUNDLE:-build-gpu/bundle}
PYTHON=${PYTHON:-python3}
BUDGET_S=${GPU_CHECK_BUDGET_S:-450}
mkdir -p "$OUT"
log=$OUT/gpu-check.log
benchjson=$OUT/gpu-bench.jsonl
summary=$OUT/gpu-summary.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
steps=$work/steps.tsv  # name <TAB> status <TAB> seconds <TAB> detail
: >"$log"
: >"$benchjson"
: >"$steps"
start=$(date +%s)
# The bundle carries the binaries as xz (scripts/gpu-bundle.sh says why); unpacked here.
moegrad=$work/bin/moegrad
conformance=$work/bin/cuda_conformance
dist_tests=$work/bin/moegrad_dist_tests  # optional: a bundle without it skips the NCCL step
torch_script=$BUNDLE/torch_toy_moe.py

say() { printf '%s\n' "$*" | tee -a "$log"; }
record() {  # record NAME STATUS SECONDS DETAIL
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(printf '%s' "$4" | tr '\t\n' '  ')" >>"$steps"
  say "[$2] $1 (${3}s): $4"
}
elapsed() { echo $(($(date +%s) - start)); }

# A reason every GPU step is not run for (the bundle is missing, or not a CUDA build, or
# cannot load), and one for the PyTorch steps; empty when they can run.
no_gpu_build=""
no_torch=""

say "gpu-check: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n), budget ${BUDGET_S}s, bundle $BUNDLE, out $OUT"

# --- the bundle, and what it needs from this machine ---------------------------------------
unxz_to() {  # unxz_to FILE.xz OUT: xz where it is installed, else Python's lzma
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"
  else "$PYTHON" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}
mkdir -p "$work/bin"
if [ ! -f "$BUNDLE/moegrad.xz" ] || [ ! -f "$BUNDLE/cuda_conformance.xz" ] || [ ! -f "$BUNDLE/BUILD_INFO" ]; then
  no_gpu_build="no bundle at $BUNDLE (run scripts/gpu-bundle.sh and carry that folder)"
elif ! unxz_to "$BUNDLE/moegrad.xz" "$moegrad" || ! unxz_to "$BUNDLE/cuda_conformance.xz" "$conformance"; then
  no_gpu_build="the binaries in $BUNDLE could not be unpacked (neither xz nor $PYTHON's lzma)"
elif [ -f "$BUNDLE/moegrad_dist_tests.xz" ] && ! unxz_to "$BUNDLE/moegrad_dist_tests.xz" "$dist_tests"; then
  no_gpu_build="moegrad_dist_tests in $BUNDLE could not be unpacked"
elif ! sed -n "s#^\(moegrad\|cuda_conformance\|moegrad_dist_tests\): sha256 \(.*\)#\2  $work/bin/\1#p" "$BUNDLE/BUILD_INFO" |
       sha256sum -c --quiet --strict; then
  no_gpu_build="the unpacked binaries differ from BUILD_INFO's sha256"
elif ! grep -qx 'MOEGRAD_CUDA=ON' "$BUNDLE/BUILD_INFO" || ! grep -qx 'MOEGRAD_CUDA_EMU=OFF' "$BUNDLE/BUILD_INFO"; then
  # An emulated build's "cuda" device is the CPU: its results must never read as a GPU's.
  no_gpu_build="the bundle is not the nvcc CUDA build (BUILD_INFO: $(grep MOEGRAD_CUDA "$BUNDLE/BUILD_INFO" | tr '\n' ' '))"
else
  chmod +x "$moegrad" "$conformance"
  [ -f "$dist_tests" ] && chmod +x "$dist_tests"
  # And the binaries themselves: nvcc's device code is a section of its own, .nv_fatbin.
  for bin in "$moegrad" "$conformance"; do
    grep -qa '\.nv_fatbin' "$bin" || no_gpu_build="$bin holds no CUDA device code (.nv_fatbin): not the nvcc build"
  done
fi

# cuBLAS is the device toolkit's: find the folder that holds the soname the build needs.
cublas_so=$(sed -n 's/^needed: .*\(libcublas\.so\.[0-9]*\).*/\1/p' "$BUNDLE/BUILD_INFO" 2>/dev/null)
cublas_so=${cublas_so:-libcublas.so.13}
# find_lib SONAME DIR...: the first DIR that holds SONAME, else "(ldconfig)" when the loader
# knows it, else the folder of pip's nvidia wheels (PyTorch's own) that holds it; else nothing.
find_lib() {
  local so=$1 d f
  shift
  for d in "$@"; do
    if [ -n "$d" ] && [ -e "$d/$so" ]; then echo "$d"; return; fi
  done
  if ldconfig -p 2>/dev/null | grep -q "$so"; then echo "(ldconfig)"; return; fi
  command -v "$PYTHON" >/dev/null || return
  for d in $("$PYTHON" -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
    f=$(find "$d/nvidia" -maxdepth 3 -name "$so" 2>/dev/null | head -1)
    if [ -n "$f" ]; then dirname "$f"; return; fi
  done
}
candidates=("${CUBLAS_DIR:-}" "${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64
            /usr/local/cuda/targets/x86_64-linux/lib)
cublas_dir=$(find_lib "$cublas_so" "${candidates[@]}")
if [ -z "$cublas_dir" ]; then
  say "gpu-check: $cublas_so not found (looked in ${candidates[*]}, ldconfig, $PYTHON's nvidia packages): set CUBLAS_DIR"
  [ -z "$no_gpu_build" ] && no_gpu_build="$cublas_so not found on this machine (set CUBLAS_DIR to its folder)"
elif [ "$cublas_dir" != "(ldconfig)" ]; then
  export LD_LIBRARY_PATH=$cublas_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
# NCCL, for the communicator tests alone: the toolkit's, the system's or PyTorch's wheel's.
nccl_dir=""
if [ -f "$dist_tests" ]; then
  nccl_dir=$(find_lib libnccl.so.2 "${NCCL_DIR:-}" "${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64 \
             /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib)
fi
# The driver's libcuda.so.1, where the machine mounts it outside the loader's path.
[ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64
say "cuBLAS: $cublas_so from ${cublas_dir:-nowhere}; LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
if [ -z "$no_gpu_build" ]; then
  missing=$(ldd "$moegrad" "$conformance" 2>&1 | grep 'not found' | sort -u | tr '\n\t' '  ')
  [ -n "$missing" ] && no_gpu_build="the binaries cannot load: $missing"
fi
# A bundle that is missing or cannot run here is a failure of the check, not a missing GPU.
[ -f "$BUNDLE/BUILD_INFO" ] && { say "--- $BUNDLE/BUILD_INFO"; tee -a "$log" <"$BUNDLE/BUILD_INFO"; }
if [ -n "$no_gpu_build" ]; then record bundle FAIL 0 "$no_gpu_build"
else record bundle PASS 0 "$(sed -n 's/^commit: //p' "$BUNDLE/BUILD_INFO")"; fi

# --- running a step -------------------------------------------------------------------------
# run_step NAME LIMIT_S COMMAND...: runs COMMAND under `timeout` into $work/NAME.out and the
# log, leaving rc in $step_rc and the seconds in $step_s; returns 1 (and records "not run")
# when the budget cannot give the step 10 seconds.
step_rc=0
step_s=0
run_step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET_S - $(elapsed) - 5))  # 5 s kept for the summary
  if [ "$left" -lt 10 ]; then
    record "$name" "not run" 0 "the check's ${BUDGET_S}s budget is spent"
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  say "=== $name (timeout ${limit}s): $*"
  local t0
  t0=$(date +%s)
  timeout -k 10 "$limit" "$@" >"$work/$name.out" 2>&1
  step_rc=$?
  step_s=$(($(date +%s) - t0))
  # Into the log at most 4000 lines a step, so that it stays within what $OUT can return.
  local lines
  lines=$(wc -l <"$work/$name.out")
  if [ "$lines" -gt 4000 ]; then
    { head -n 2000 "$work/$name.out"; echo "... $((lines - 4000)) lines cut ..."; tail -n 2000 "$work/$name.out"; } >>"$log"
  else
    cat "$work/$name.out" >>"$log"
  fi
  tail -n 40 "$work/$name.out"
  say "=== $name: exit $step_rc after ${step_s}s"
  return 0
}
timed_out() { [ "$step_rc" -eq 124 ] || [ "$step_rc" -eq 137 ]; }
# The binaries' own words for "no GPU here" (exit 2 from moegrad, 77 from the suite and the
# toy script); returns the reason, or nothing.
no_device_reason() {
  grep -m1 -o -e 'no CUDA device found.*' -e 'not built with CUDA.*' -e 'built without CUDA.*' "$work/$1.out"
}
# verdict NAME PASS_DETAIL: records a finished step from its exit code and output.
verdict() {
  local name=$1 detail=$2 why
  why=$(no_device_reason "$name")
  if timed_out; then
    record "$name" "FAIL" "$step_s" "timed out; $(tail -n 1 "$work/$name.out")"
  elif [ "$step_rc" -eq 77 ]; then
    record "$name" "not run" "$step_s" "${why:-exit 77: no CUDA device}"
  elif [ -n "$why" ] && [ "$step_rc" -eq 2 ]; then
    record "$name" "not run" "$step_s" "$why"
  elif [ "$step_rc" -eq 0 ]; then
    record "$name" "PASS" "$step_s" "$detail"
  else
    record "$name" "FAIL" "$step_s" "exit $step_rc; $(grep -v '^\s*$' "$work/$name.out" | tail -n 3 | tr '\n' ' ')"
  fi
}
gpu_step() {  # gpu_step NAME LIMIT COMMAND...: run_step, unless no GPU build can run
  if [ -n "$no_gpu_build" ]; then
    record "$1" "not run" 0 "$no_gpu_build"
    return 1
  fi
  run_step "$@"
}

# --- the machine ------------------------------------------------------------------------------
gpu_name=""
if command -v nvidia-smi >/dev/null; then
  if run_step nvidia-smi 20 sh -c 'nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv,noheader; nvidia-smi'; then
    gpu_name=$(head -1 "$work/nvidia-smi.out")
    if [ "$step_rc" -eq 0 ]; then record nvidia-smi PASS "$step_s" "index, name, driver, memory, compute capability: $gpu_name"
    else record nvidia-smi FAIL "$step_s" "exit $step_rc; $gpu_name"; fi
  fi
else
  record nvidia-smi "not run" 0 "no nvidia-smi on this machine"
fi
cpu_model=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
mem_available=$(awk '/^MemAvailable:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
say "host: $cpu_model, $(nproc) cores; MemAvailable $mem_available (the bench's memory pre-check reads host memory)"
if ! grep -qw avx2 /proc/cpuinfo || ! grep -qw fma /proc/cpuinfo || ! grep -qw bmi2 /proc/cpuinfo; then
  if [ -z "$no_gpu_build" ]; then
    no_gpu_build="this CPU lacks AVX2/FMA/BMI2 (the bundle is built for x86-64-v3)"
    record cpu FAIL 0 "$no_gpu_build"
  fi
fi

# --- conformance -----------------------------------------------------------------------------
catch_counts() {  # Catch2's closing lines: "All tests passed (...)" or "test cases: ... | assertions: ..."
  grep -E '^(All tests passed|test cases:|assertions:)' "$work/$1.out" | tr '\n' ' '
}
conformance_step() {  # conformance_step NAME [ENV=VALUE...]
  local name=$1
  shift
  gpu_step "$name" 120 env "$@" "$conformance" || return
  if grep -q 'EMULATED' "$work/$name.out"; then
    record "$name" "FAIL" "$step_s" "the suite ran on an EMULATED device: not a GPU result"
  elif [ "$step_rc" -ne 77 ] && ! grep -q '^cuda_conformance: CUDA device' "$work/$name.out"; then
    record "$name" "FAIL" "$step_s" "exit $step_rc without naming a CUDA device; $(catch_counts "$name")"
  else
    verdict "$name" "$(catch_counts "$name")"
  fi
}
conformance_step conformance
conformance_step conformance_sync_no_cache MOEGRAD_CUDA_SYNC=1 MOEGRAD_CUDA_NO_CACHE=1

# --- parity and the toy run --------------------------------------------------------------------
for dtype in float64 float32; do
  for dispatch in dense indexed; do
    name=parity_${dtype}_${dispatch}
    gpu_step "$name" 60 "$moegrad" parity tests/fixtures/*.safetensors --device cuda --dtype "$dtype" \
      --dispatch "$dispatch" || continue
    verdict "$name" "$(grep -m1 'fixtures passed' "$work/$name.out")"
  done
done
if gpu_step toy_matches_cpu 120 sh tests/cuda/toy_matches_cpu.sh "$moegrad" .; then
  verdict toy_matches_cpu "$(grep -E '^(cpu|cuda):' "$work/toy_matches_cpu.out" | tr '\n' ' ')"
fi

# --- the communicator on the device (NCCL), one rank -----------------------------------------------
if [ -n "$no_gpu_build" ]; then
  record nccl_collectives "not run" 0 "$no_gpu_build"
elif [ ! -f "$dist_tests" ]; then
  record nccl_collectives "not run" 0 "no moegrad_dist_tests.xz in $BUNDLE (a bundle from before it was added)"
elif [ -z "$nccl_dir" ]; then
  record nccl_collectives "not run" 0 "libnccl.so.2 not found (toolkit, ldconfig, $PYTHON's nvidia packages): set NCCL_DIR"
else
  nccl_path=${LD_LIBRARY_PATH:-}
  [ "$nccl_dir" != "(ldconfig)" ] && nccl_path=$nccl_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  if run_step nccl_collectives 120 env LD_LIBRARY_PATH="$nccl_path" "$dist_tests" --nccl "[dist]"; then
    if [ "$step_rc" -eq 0 ] && ! grep -q '^moegrad_dist_tests: NCCL on CUDA device' "$work/nccl_collectives.out"; then
      record nccl_collectives FAIL "$step_s" "exit 0 without naming a CUDA device; $(catch_counts nccl_collectives)"
    else
      verdict nccl_collectives "$(catch_counts nccl_collectives) (libnccl from $nccl_dir)"
    fi
  fi
fi

# --- the bench, beside PyTorch -------------------------------------------------------------------
if [ ! -f "$torch_script" ]; then
  no_torch="no torch_toy_moe.py in $BUNDLE (gpu-bundle.sh copies the file TORCH_SCRIPT names)"
elif ! command -v "$PYTHON" >/dev/null; then
  no_torch="no $PYTHON on this machine"
else
  probe='import json, torch; ok = torch.cuda.is_available()
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "available": ok,
                  "gpu": torch.cuda.get_device_name() if ok else None}))'
  if ! run_step torch_probe 90 "$PYTHON" -c "$probe"; then
    no_torch="the budget was spent before PyTorch was tried"
  elif [ "$step_rc" -ne 0 ]; then
    no_torch="PyTorch did not load: $(tail -n 1 "$work/torch_probe.out")"
  elif ! grep -q '"available": true' "$work/torch_probe.out"; then
    no_torch="torch.cuda.is_available() is False: $(tail -n 1 "$work/torch_probe.out")"
  fi
  if [ -n "$no_torch" ]; then
    [ -f "$work/torch_probe.out" ] && record torch_probe "not run" "$step_s" "$no_torch"
  else
    record torch_probe PASS "$step_s" "$(tail -n 1 "$work/torch_probe.out")"
  fi
fi

# bench_result NAME SIZE IMPL: the JSON line of a bench step, checked to come from a GPU.
bench_result() {
  local name=$1 size=$2 impl=$3 json
  json=$(grep '^{' "$work/$name.out" | tail -n 1)
  if timed_out || [ "$step_rc" -ne 0 ]; then
    verdict "$name" ""
    return
  fi
  if [ -z "$json" ]; then
    record "$name" FAIL "$step_s" "no JSON line in the output"
    return
  fi
  # moegrad names its device "cuda:N"; torch_toy_moe.py "cuda", with the GPU's name.
  if ! printf '%s' "$json" | grep -q '"device": *"cuda' ||
     { [ "$impl" != moegrad ] && ! printf '%s' "$json" | grep -q '"gpu":'; }; then
    record "$name" FAIL "$step_s" "the result does not come from a CUDA device: ${json:0:200}"
    return
  fi
  printf '{"size": "%s", "impl": "%s", "result": %s}\n' "$size" "$impl" "$json" >>"$benchjson"
  record "$name" PASS "$step_s" "$(printf '%s' "$json" | grep -o '"step_ms": *{[^}]*}')"
}
sizes=(S M L XL)
declare -A bench_steps=([S]=30 [M]=30 [L]=20 [XL]=10)
declare -A bench_warmup=([S]=3 [M]=3 [L]=3 [XL]=2)
declare -A bench_limit=([S]=60 [M]=60 [L]=90 [XL]=120)
declare -A compile_limit=([S]=120 [M]=120 [L]=150 [XL]=180)
torch_step() {  # torch_step NAME SIZE IMPL LIMIT [--compile]
  local name=$1 size=$2 impl=$3 limit=$4
  shift 4
  if [ -n "$no_torch" ]; then
    record "$name" "not run" 0 "$no_torch"
    return
  fi
  run_step "$name" "$limit" env PYTHONUNBUFFERED=1 "$PYTHON" "$torch_script" --device cuda --size "$size" \
    --steps "${bench_steps[$size]}" --warmup "${bench_warmup[$size]}" --breakdown-steps 0 "$@" || return
  bench_result "$name" "$size" "$impl"
}
# moegrad and eager PyTorch one after the other at each size; torch.compile, the slowest to
# start, after all of them, so that a spent budget costs its largest sizes first.
for size in "${sizes[@]}"; do
  if gpu_step "bench_${size}_moegrad" "${bench_limit[$size]}" "$moegrad" bench --device cuda --size "$size" \
      --steps "${bench_steps[$size]}" --warmup "${bench_warmup[$size]}"; then
    bench_result "bench_${size}_moegrad" "$size" moegrad
  fi
  torch_step "bench_${size}_torch_eager" "$size" torch_eager "${bench_limit[$size]}"
done
for size in "${sizes[@]}"; do
  torch_step "bench_${size}_torch_compile" "$size" torch_compile "${compile_limit[$size]}" --compile
done

# --- the summary ---------------------------------------------------------------------------------
total_s=$(elapsed)
{
  echo "# GPU check, $(date -u +%Y-%m-%d)"
  echo
  echo "- finished: $(date -u +%Y-%m-%dT%H:%M:%SZ), ${total_s}s of a ${BUDGET_S}s budget, on $(uname -n)"
  echo "- GPU: ${gpu_name:-none found (no nvidia-smi, or it failed)}"
  echo "- host: $cpu_model, $(nproc) cores, MemAvailable $mem_available"
  echo "- bundle: $(sed -n 's/^commit: //p' "$BUNDLE/BUILD_INFO" 2>/dev/null) ($(grep -E '^(MOEGRAD_CUDA|MOEGRAD_CUDA_EMU)=|nvcc targets' "$BUNDLE/BUILD_INFO" 2>/dev/null | tr '\n' ' '))"
  echo "- working tree: $(git rev-parse HEAD 2>/dev/null || echo 'no git here'); cuBLAS: $cublas_so from ${cublas_dir:-nowhere}; NCCL from ${nccl_dir:-nowhere}"
  [ -n "$no_gpu_build" ] && echo "- GPU steps could not run: $no_gpu_build"
  [ -n "$no_torch" ] && echo "- PyTorch steps could not run: $no_torch"
  echo
  echo "| step | result | s | detail |"
  echo "| --- | --- | --- | --- |"
  while IFS=$'\t' read -r name status secs detail; do
    echo "| $name | $status | $secs | ${detail//|/\\|} |"
  done <"$steps"
  echo
} >"$summary"
if command -v "$PYTHON" >/dev/null; then
  "$PYTHON" scripts/gpu_summary.py "$benchjson" >>"$summary" 2>>"$log" ||
    echo "(the table of medians could not be made: see gpu-check.log)" >>"$summary"
else
  echo "(no $PYTHON: no table of medians; the raw results are in gpu-bench.jsonl)" >>"$summary"
fi
cat "$summary" | tee -a "$log"

if cut -f2 "$steps" | grep -qx FAIL; then exit 1; fi
if cut -f2 "$steps" | grep -qx 'not run'; then exit 77; fi
exit 0
