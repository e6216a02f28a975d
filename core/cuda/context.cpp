#include "moegrad/core/cuda/context.h"

#include <cstdlib>
#include <cstring>

#include "moegrad/core/cuda/check.h"

namespace moegrad::cuda {

namespace {
// cuBLAS's recommended workspace for Hopper is 32 MiB; giving it one of our own keeps it
// from allocating behind the allocator's back.
constexpr size_t kBlasWorkspaceBytes = size_t{32} << 20;
// Enough blocks to fill an H200 (132 SMs x 8 resident blocks of 256) with room to spare.
constexpr int kDefaultMaxGridBlocks = 4096;

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0;
}
}  // namespace

Context::Context(int device)
    : device_(device), sync_each_op_(env_flag("MOEGRAD_CUDA_SYNC")), max_grid_blocks_(kDefaultMaxGridBlocks) {
  const char* op = "cuda_backend";
  MOEGRAD_CUDA_CALL(op, cudaSetDevice(device_));
  MOEGRAD_CUDA_CALL(op, cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  MOEGRAD_CUDA_CALL(op, cublasCreate(&blas_));
  MOEGRAD_CUDA_CALL(op, cublasSetStream(blas_, stream_));
  MOEGRAD_CUDA_CALL(op, cudaMalloc(&workspace_, kBlasWorkspaceBytes));
  MOEGRAD_CUDA_CALL(op, cublasSetWorkspace(blas_, workspace_, kBlasWorkspaceBytes));
  // Pedantic: no TF32 or other reduced-precision paths, even under NVIDIA_TF32_OVERRIDE.
  MOEGRAD_CUDA_CALL(op, cublasSetMathMode(blas_, CUBLAS_PEDANTIC_MATH));
}

void Context::activate(const char* op) const {
  int current = -1;
  MOEGRAD_CUDA_CALL(op, cudaGetDevice(&current));
  if (current != device_) MOEGRAD_CUDA_CALL(op, cudaSetDevice(device_));
}

void Context::set_max_grid_blocks(int blocks) {
  MOEGRAD_CHECK(blocks >= 1, "cuda_set_max_grid_blocks: need at least 1 block, got ", blocks);
  max_grid_blocks_.store(blocks, std::memory_order_relaxed);
}

void Context::check_launch(const char* op) const {
  MOEGRAD_CUDA_CALL(op, cudaGetLastError());
  if (sync_each_op_) synchronize(op);
}

void Context::synchronize(const char* op) const { MOEGRAD_CUDA_CALL(op, cudaStreamSynchronize(stream_)); }

}  // namespace moegrad::cuda
