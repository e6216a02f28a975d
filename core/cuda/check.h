#pragma once
// Every CUDA runtime and cuBLAS call is checked; a failure throws an Error naming the
// moegrad op that made the call, the call itself and CUDA's name for the error.
#include "moegrad/core/cuda/api.h"
#include "moegrad/core/error.h"

namespace moegrad::cuda {

[[noreturn]] void throw_cuda_error(const char* op, const char* call, cudaError_t e);
[[noreturn]] void throw_cublas_error(const char* op, const char* call, cublasStatus_t s);

inline void check(cudaError_t e, const char* op, const char* call) {
  if (e != cudaSuccess) throw_cuda_error(op, call, e);
}
inline void check(cublasStatus_t s, const char* op, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS) throw_cublas_error(op, call, s);
}

}  // namespace moegrad::cuda

// MOEGRAD_CUDA_CALL("matmul", cudaMemcpyAsync(...)): `op` is what the user called.
#define MOEGRAD_CUDA_CALL(op, call) ::moegrad::cuda::check((call), (op), #call)
