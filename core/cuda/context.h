#pragma once
// What one CUDA device needs for every op: the device index, its one stream (all kernels,
// copies and cuBLAS calls are ordered on it, which is what makes results reproducible and
// lets freed memory be reused without events), the cuBLAS handle with its own workspace,
// the launch limits, and the MOEGRAD_CUDA_SYNC debugging switch.
#include <atomic>

#include "moegrad/core/cuda/api.h"

namespace moegrad::cuda {

class Context {
 public:
  explicit Context(int device);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  // Never destroyed (see cuda_backend()): releasing at exit would race the runtime's unloading.

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t blas() const { return blas_; }

  // Makes this device current for the calling thread; every backend entry point calls it.
  void activate(const char* op) const;

  int max_grid_blocks() const { return max_grid_blocks_.load(std::memory_order_relaxed); }
  void set_max_grid_blocks(int blocks);

  // After each launch: the launch error, and with MOEGRAD_CUDA_SYNC=1 a synchronise, so a
  // fault is reported by the op that caused it rather than by a later one.
  void check_launch(const char* op) const;
  // Waits for the stream (before the host reads results).
  void synchronize(const char* op) const;

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  void* workspace_ = nullptr;
  bool sync_each_op_ = false;
  std::atomic<int> max_grid_blocks_;
};

}  // namespace moegrad::cuda
