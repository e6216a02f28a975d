#pragma once
// Device memory for one CUDA device: cudaMalloc'd blocks kept by rounded size class after
// they are freed and handed out again, as core/cpu/memory.cpp does for host memory. With
// one stream per device a freed block may be reused at once: every later use of it is
// queued after every earlier one. MOEGRAD_CUDA_NO_CACHE=1 frees every block at once
// (for compute-sanitizer, which then sees each use-after-free).
#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "moegrad/core/cuda/cuda_backend.h"

namespace moegrad::cuda {

class DeviceMemory {
 public:
  explicit DeviceMemory(int device);
  void* allocate(size_t nbytes);
  void deallocate(void* ptr, size_t nbytes) noexcept;
  void empty_cache() noexcept;
  CudaMemoryStats stats() const;

 private:
  void release_cached_locked() noexcept;

  int device_;
  bool cache_enabled_;
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  CudaMemoryStats stats_;
};

// The size class a request is served from.
size_t rounded_device_bytes(size_t nbytes);

}  // namespace moegrad::cuda

namespace moegrad::cuda {

// A temporary device buffer for one op, returned to the cache when the op's launches are
// queued: later users of the block are queued after them on the same stream.
class DeviceScratch {
 public:
  DeviceScratch(DeviceMemory& memory, size_t nbytes) : memory_(memory), nbytes_(nbytes), ptr_(memory.allocate(nbytes)) {}
  ~DeviceScratch() { memory_.deallocate(ptr_, nbytes_); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  DeviceMemory& memory_;
  size_t nbytes_;
  void* ptr_;
};

}  // namespace moegrad::cuda
