#include "moegrad/core/cuda/memory.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>

#include "moegrad/core/cuda/check.h"
#include "moegrad/core/memory_budget.h"

namespace moegrad::cuda {

namespace {
// Freed blocks beyond this are returned to the driver rather than cached.
constexpr size_t kMaxCached = size_t{8} << 30;
}  // namespace

// 512-byte granularity (cudaMalloc itself returns 256-byte aligned blocks); above 1 MiB,
// 8 classes per power of two (at most 12.5% slack), so MoE tensors whose sizes change with
// the routing every step still reuse blocks.
size_t rounded_device_bytes(size_t nbytes) {
  const size_t bytes = std::max<size_t>(512, (nbytes + 511) / 512 * 512);
  if (bytes <= (size_t{1} << 20)) return bytes;
  const size_t step = std::bit_floor(bytes) / 8;
  return (bytes + step - 1) / step * step;
}

DeviceMemory::DeviceMemory(int device) : device_(device) {
  const char* v = std::getenv("MOEGRAD_CUDA_NO_CACHE");
  cache_enabled_ = !(v && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0);
}

void* DeviceMemory::allocate(size_t nbytes) {
  const size_t bytes = rounded_device_bytes(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = free_.find(bytes); it != free_.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    stats_.cached -= bytes;
    stats_.allocated += bytes;
    stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    // What the cache holds may be what is missing: give it back and try once more.
    (void)cudaGetLastError();
    release_cached_locked();
    e = cudaMalloc(&p, bytes);
  }
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    throw OutOfMemoryError(str_cat("cuda: out of memory allocating ", format_bytes(static_cast<int64_t>(bytes)),
                                   " on device ", device_, " (", format_bytes(static_cast<int64_t>(stats_.allocated)),
                                   " allocated by moegrad)"));
  }
  MOEGRAD_CUDA_CALL("cuda allocate", e);
  ++stats_.device_allocations;
  stats_.allocated += bytes;
  stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
  return p;
}

void DeviceMemory::deallocate(void* ptr, size_t nbytes) noexcept {
  if (!ptr) return;
  const size_t bytes = rounded_device_bytes(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.allocated -= bytes;
  if (cache_enabled_ && stats_.cached + bytes <= kMaxCached) {
    try {
      free_[bytes].push_back(ptr);
      stats_.cached += bytes;
      return;
    } catch (...) {
      // No memory for the list entry: free the block instead.
    }
  }
  // Errors cannot be thrown from here; cudaErrorCudartUnloading is expected when a
  // storage outlives the runtime at exit, and the memory goes with the process anyway.
  if (cudaFree(ptr) != cudaSuccess) (void)cudaGetLastError();
}

void DeviceMemory::release_cached_locked() noexcept {
  for (auto& [bytes, list] : free_) {
    for (void* p : list)
      if (cudaFree(p) != cudaSuccess) (void)cudaGetLastError();
    stats_.cached -= bytes * list.size();
    list.clear();
  }
}

void DeviceMemory::empty_cache() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

CudaMemoryStats DeviceMemory::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace moegrad::cuda
