#!/usr/bin/env bash
# Builds, here, what the one-command GPU check (scripts/gpu-check.sh) runs on a GPU machine
# that has glibc, a CUDA toolkit and PyTorch but none of the Debian -dev packages:
#   build-gpu/bundle/moegrad.xz,                  nvcc build (sm_90), MOEGRAD_PORTABLE: only
#     cuda_conformance.xz,                        glibc and cuBLAS left dynamic (and NCCL for
#     moegrad_dist_tests.xz                       the communicator tests alone), stripped;
#                                                 xz, since static OpenBLAS (all its CPU
#                                                 kernels) is 25 MB in each binary and both
#                                                 would not travel raw (1.4 MB as xz)
#   build-gpu/bundle/torch_toy_moe.py             a copy of TORCH_SCRIPT=PATH, the PyTorch
#                                                 version of the bench model, when given (it
#                                                 is not part of the project)
#   build-gpu/bundle/BUILD_INFO                   commit, build options, toolkit, libraries
# then prints the bundle's size, what travels in all, and each binary's ldd. bench/README.md
# ("On a GPU") says how the device tool runs the check with this folder carried.
# Environment: BUILD_DIR (default build-gpu), JOBS (default nproc), TORCH_SCRIPT.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-$(nproc)}
bundle=$BUILD_DIR/bundle
limit_bytes=$((64 * 1024 * 1024))  # the device tool's limit on all that travels

nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || nvcc=/usr/local/cuda/bin/nvcc
if [ ! -x "$nvcc" ]; then
  echo "gpu-bundle: no nvcc (PATH or /usr/local/cuda/bin): the bundle needs the real CUDA build" >&2
  exit 1
fi

bash scripts/install-deps.sh
# ccache keys on paths relative to the checkout, as the Makefile sets it.
export CCACHE_BASEDIR=$PWD
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOEGRAD_PORTABLE=ON \
  -DMOEGRAD_CUDA=ON -DMOEGRAD_CUDA_EMU=OFF -DCMAKE_CUDA_COMPILER="$nvcc"
cmake --build "$BUILD_DIR" -j "$JOBS" --target moegrad cuda_conformance moegrad_dist_tests

stripped=$BUILD_DIR/stripped
rm -rf "$bundle" "$stripped"
mkdir -p "$bundle" "$stripped"
bins=(moegrad cuda_conformance moegrad_dist_tests)
for bin in "${bins[@]}"; do
  # -s drops the symbol tables only; the CUDA fatbinary is a section of its own and stays.
  strip -s -o "$stripped/$bin" "$BUILD_DIR/$bin"
  xz -6 -T0 -c "$stripped/$bin" >"$bundle/$bin.xz"
done

torch_script=${TORCH_SCRIPT:-}
if [ -n "$torch_script" ] && [ -f "$torch_script" ]; then
  cp "$torch_script" "$bundle/torch_toy_moe.py"
else
  echo "gpu-bundle: no TORCH_SCRIPT=PATH given (or not found): the check will run without the PyTorch side" >&2
fi

cache() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD_DIR/CMakeCache.txt"; }
{
  echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
  echo "MOEGRAD_CUDA=$(cache MOEGRAD_CUDA)"
  echo "MOEGRAD_CUDA_EMU=$(cache MOEGRAD_CUDA_EMU)"
  echo "MOEGRAD_PORTABLE=$(cache MOEGRAD_PORTABLE)"
  echo "MOEGRAD_NCCL=$(cache MOEGRAD_NCCL)"
  echo "nvcc targets: $(grep -o -- '--generate-code=[^ ]*' "$BUILD_DIR/build.ninja" | sort -u | tr '\n' ' ')"
  echo "nvcc: $("$nvcc" --version | tail -1)"
  echo "needed: $(readelf -d "$stripped/moegrad" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
  echo "glibc at least: $(objdump -T "$stripped/moegrad" "$stripped/cuda_conformance" | grep -o 'GLIBC_[0-9.]*' |
    sort -uV | tail -n 1)"
  echo "moegrad_dist_tests needs: $(readelf -d "$stripped/moegrad_dist_tests" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
  for bin in "${bins[@]}"; do
    echo "$bin: sha256 $(sha256sum "$stripped/$bin" | cut -d' ' -f1)"
  done
  if [ -f "$bundle/torch_toy_moe.py" ]; then
    echo "torch_toy_moe.py: sha256 $(sha256sum "$bundle/torch_toy_moe.py" | cut -d' ' -f1)"
  fi
} >"$bundle/BUILD_INFO"
cat "$bundle/BUILD_INFO"

# Only these may be needed: glibc's own libraries and the device toolkit's cuBLAS (ldd also
# lists what cuBLAS itself needs, such as libgcc_s, which comes with that toolkit's machine).
allowed='^(libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|ld-linux-x86-64\.so|libcublas\.so|libcublasLt\.so|libcudart\.so)'
status=0
for bin in "${bins[@]}"; do
  # The communicator tests alone may need NCCL, which gpu-check.sh looks for on the machine.
  allowed_here=$allowed
  [ "$bin" = moegrad_dist_tests ] && allowed_here="${allowed%)}|libnccl\.so)"
  echo "--- ldd $stripped/$bin (as $bundle/$bin.xz)"
  ldd "$stripped/$bin"
  for lib in $(readelf -d "$stripped/$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    [[ $lib =~ $allowed_here ]] || { echo "gpu-bundle: $bin needs $lib, which the GPU machine lacks" >&2; status=1; }
  done
done

bundle_bytes=$(du -cb "$bundle"/* | tail -1 | cut -f1)
tree_bytes=$( (git ls-files; git ls-files --others --exclude-standard) | sort -u |
  while read -r f; do [ -f "$f" ] && printf '%s\0' "$f"; done | du -cb --files0-from=- | tail -1 | cut -f1)
echo "--- sizes"
du -b "$stripped"/* "$bundle"/*
awk -v b="$bundle_bytes" -v t="$tree_bytes" 'BEGIN {
  printf "bundle %.1f MiB + working tree %.1f MiB = %.1f MiB of the 64 MiB that may travel\n",
         b / 1048576, t / 1048576, (b + t) / 1048576 }'
if [ $((bundle_bytes + tree_bytes)) -gt $((limit_bytes * 9 / 10)) ]; then
  echo "gpu-bundle: that is over 90% of the limit" >&2
  status=1
fi
echo "--- the bundle on a simulated bare machine (tests/gpu_check/bare_machine.sh)"
bash tests/gpu_check/bare_machine.sh "$bundle" build/moegrad
case $? in
  0) ;;
  77) echo "gpu-bundle: (not simulated here)" ;;
  *) status=1 ;;
esac
[ "$status" -eq 0 ] && echo "gpu-bundle: ready: carry [\"$bundle\"], command \"bash scripts/gpu-check.sh\""
exit "$status"
