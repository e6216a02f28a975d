#!/usr/bin/env bash
# Installs the Debian packages moegrad builds and tests with, only those missing,
# so a fresh Debian 12 machine needs nothing by hand and a prepared one pays nothing.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache make pkg-config
  libopenblas-dev   # BLAS for every matmul
  libyaml-cpp-dev   # configs
  catch2            # v2 single-header tests
  libfmt-dev        # message formatting
  libcli11-dev      # command line
  nlohmann-json3-dev  # safetensors headers, metrics
  xz-utils          # the GPU check's bundle (scripts/gpu-bundle.sh)
  openmpi-bin libopenmpi-dev  # mpirun and MPI for the communicator (dist/) and its 2-rank tests
)

# `install-deps.sh fuzz` adds what `make fuzz` needs: clang with libFuzzer.
if [ "${1:-}" = "fuzz" ]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
