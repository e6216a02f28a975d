#pragma once
// The CUDA device seen from outside core/cuda/: whether there is one, its Backend, and its
// memory statistics. Declared in every build; without CUDA (MOEGRAD_CUDA=OFF) these report
// that no device exists and cuda_backend() throws, so callers need no #ifdef.
#include <cstddef>
#include <string>

#include "moegrad/core/backend.h"

namespace moegrad {

// Devices usable now: 0 when the build has no CUDA or the machine has no GPU; 1 in the
// emulated build (MOEGRAD_CUDA_EMU), whose device is the CPU running the CUDA kernels.
int cuda_device_count();
bool cuda_device_available();
// Why cuda_device_count() is 0 ("not built with CUDA", "no CUDA device found: ..."); empty
// when a device is available.
std::string cuda_unavailable_reason();
// True in the emulated build: anything measured on its device is an emulation, not a GPU.
bool cuda_is_emulated();

// The backend of device `index`, created on first use: one stream, one cuBLAS handle.
// Throws naming the reason when there is no such device.
Backend& cuda_backend(int index = 0);

struct CudaMemoryStats {
  size_t allocated = 0;       // bytes in blocks held by live storages (rounded sizes)
  size_t cached = 0;          // bytes in freed blocks kept for reuse
  size_t peak_allocated = 0;  // the most `allocated` has been
  size_t device_allocations = 0;  // cudaMalloc calls so far
};
CudaMemoryStats cuda_memory_stats(int index = 0);
// Returns every cached block to the driver.
void cuda_empty_cache(int index = 0);

// The most blocks one kernel launch uses (kernels loop over the rest with a grid stride).
// Tests lower it so that small tensors still cover several grid strides.
void cuda_set_max_grid_blocks(int index, int blocks);

}  // namespace moegrad
