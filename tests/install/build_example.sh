#!/usr/bin/env bash
# Installs this build of moegrad into a fresh prefix, then builds one of examples/ against
# it, as a user's project outside the tree would (find_package(moegrad) and
# moegrad::moegrad, nothing else), and runs the tests the example declares.
# Usage: build_example.sh BUILD_DIR SOURCE_DIR EXAMPLE
set -euo pipefail
build=$1 src=$2 example=$3
# A fixed place under the build folder, so that ccache recognises the example's compile.
work=$build/example-builds/$example
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" > "$work/install.log"
# Headers only under include/moegrad/, so they cannot collide with a user's core/ or nn/.
for layer in core autograd nn moe train; do
  test -d "$prefix/include/moegrad/$layer" || { echo "missing include/moegrad/$layer" >&2; exit 1; }
  test ! -e "$prefix/include/$layer" || { echo "include/$layer installed outside moegrad/" >&2; exit 1; }
done
test -x "$prefix/bin/moegrad" || { echo "bin/moegrad not installed" >&2; exit 1; }
test -f "$prefix/lib/cmake/moegrad/moegradConfig.cmake" || { echo "no CMake package installed" >&2; exit 1; }

launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$src/examples/$example" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
# Each example declares its own tests; an example without any is an error, not a pass.
ctest --test-dir "$work/build" --output-on-failure --no-tests=error
