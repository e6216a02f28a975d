#include "moegrad/core/cuda/check.h"

namespace moegrad::cuda {

[[noreturn]] void throw_cuda_error(const char* op, const char* call, cudaError_t e) {
  throw Error(str_cat(op, ": CUDA error ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") from ", call));
}

[[noreturn]] void throw_cublas_error(const char* op, const char* call, cublasStatus_t s) {
  throw Error(str_cat(op, ": cuBLAS error ", cublasGetStatusString(s), " from ", call));
}

}  // namespace moegrad::cuda
