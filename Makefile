# The two commands of the README: `make train` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# ccache keys on paths relative to the checkout, so clones share one cache.
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all deps configure build train test demo clean test-asan fuzz bench install config-docs

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The main job: the toy MoE of configs/toy_moe.yaml, into a fresh runs/toy_moe-<time>/.
train: build
	$(BUILD_DIR)/moegrad train configs/toy_moe.yaml

demo: build
	$(BUILD_DIR)/moegrad demo

# configs/README.md's key tables, regenerated from the config schema (train/config_schema.cpp).
config-docs: build
	$(BUILD_DIR)/moegrad config-docs --update configs/README.md

# Headers (include/moegrad/), libraries, the moegrad binary and the CMake package, into PREFIX.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# Then the CUDA kernels on the emulated device (test-cuda-emu): checked here without a GPU.
test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)
	$(MAKE) test-cuda-emu

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (its own build dir),
# built without CUDA: the sanitizers check the host code, and this is also the check that
# -DMOEGRAD_CUDA=OFF (a machine without the toolkit) builds and passes.
# allocator_may_return_null: a refused allocation must reach moegrad's out-of-memory error,
# as it does without ASan, instead of ASan ending the process.
ASAN_DIR ?= build-asan
test-asan: deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOEGRAD_SANITIZE=ON -DMOEGRAD_CUDA=OFF
	cmake --build $(ASAN_DIR) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS)

# libFuzzer on the three readers of untrusted files for a fixed time each (scripts/run-fuzz.sh;
# FUZZ_SECONDS=N overrides the times).

fuzz:
	@bash scripts/install-deps.sh fuzz
	bash scripts/run-fuzz.sh

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(CUDA_EMU_DIR) build-fuzz

# The CUDA backend's conformance suite (tests/cuda) with the kernels compiled by the C++
# compiler and run on the CPU (MOEGRAD_CUDA_EMU): no GPU needed, its own build dir. It
# checks the kernels' indexing, layouts and arithmetic against the CPU backend, and every
# cuBLAS call against cuBLAS's argument rules; it says nothing about GPU speed.
CUDA_EMU_DIR ?= build-cuda-emu
.PHONY: test-cuda-emu
test-cuda-emu: deps
	cmake -S . -B $(CUDA_EMU_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOEGRAD_CUDA_EMU=ON
	cmake --build $(CUDA_EMU_DIR) -j $(JOBS) --target moegrad cuda_conformance
	ctest --test-dir $(CUDA_EMU_DIR) --output-on-failure -j $(JOBS) -R '^cuda_'
