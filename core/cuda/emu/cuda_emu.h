#pragma once
// Emulated CUDA for the MOEGRAD_CUDA_EMU build: just what core/cuda/ uses of the language
// (qualifiers, dim3, the built-in indices, a launch), of the runtime (malloc-backed device
// memory, copies, a stream that runs everything at once) and of cuBLAS (strided and
// pointer-array batched gemm in cuBLAS's column-major semantics). The cuBLAS stand-ins
// check cuBLAS's own argument rules and throw when one is broken, so a bad leading
// dimension, stride or transpose fails here as it would on a GPU. Kernels run one block
// and one thread at a time, in order; those whose lanes shuffle run each block's threads
// as fibers that meet at every shuffle (cooperative.cpp). Memory-model and race bugs are
// not caught, and no figure measured here says anything about a GPU.
#include <cstddef>
#include <cstdint>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// Set by the emulated launch for the thread it is running.
extern thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

// ---- runtime ----------------------------------------------------------------------------
enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorCudartUnloading = 4,
  cudaErrorInvalidDevice = 101,
  cudaErrorNoDevice = 100,
};
enum cudaMemcpyKind : int {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
constexpr unsigned cudaStreamNonBlocking = 1;
struct CUstream_st;
using cudaStream_t = CUstream_st*;

const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaMalloc(void** ptr, size_t nbytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind,
                            cudaStream_t stream);

// ---- cuBLAS -----------------------------------------------------------------------------
enum cublasStatus_t : int {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_INVALID_VALUE = 7,
};
enum cublasOperation_t : int { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };
enum cublasMath_t : int { CUBLAS_DEFAULT_MATH = 0, CUBLAS_PEDANTIC_MATH = 2 };
struct cublasContext;
using cublasHandle_t = cublasContext*;

const char* cublasGetStatusString(cublasStatus_t s);
cublasStatus_t cublasCreate(cublasHandle_t* handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, size_t nbytes);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float* alpha, const float* a, int lda, long long stride_a,
                                         const float* b, int ldb, long long stride_b, const float* beta,
                                         float* c, int ldc, long long stride_c, int batch_count);
cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const double* alpha, const double* a, int lda, long long stride_a,
                                         const double* b, int ldb, long long stride_b, const double* beta,
                                         double* c, int ldc, long long stride_c, int batch_count);
cublasStatus_t cublasSgemmBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                  int m, int n, int k, const float* alpha, const float* const a[], int lda,
                                  const float* const b[], int ldb, const float* beta, float* const c[],
                                  int ldc, int batch_count);
cublasStatus_t cublasDgemmBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                  int m, int n, int k, const double* alpha, const double* const a[], int lda,
                                  const double* const b[], int ldb, const double* beta, double* const c[],
                                  int ldc, int batch_count);

// ---- launch -----------------------------------------------------------------------------
namespace moegrad::cuda::emu {

// A launch a GPU would refuse (cudaErrorInvalidConfiguration): grid x past 2^31 - 1,
// grid y or z past 65535, more than 1024 threads per block. Throws.
void check_launch_config(dim3 grid, dim3 block);

// Every block, then every thread of it, in order, on the calling thread.
template <typename... Params, typename... Args>
void launch(dim3 grid, dim3 block, void (*kernel)(Params...), Args... args) {
  check_launch_config(grid, block);
  gridDim = grid;
  blockDim = block;
  for (unsigned b = 0; b < grid.x; ++b) {
    blockIdx = dim3(b);
    for (unsigned t = 0; t < block.x; ++t) {
      threadIdx = dim3(t);
      kernel(args...);
    }
  }
}

// A launch whose kernel uses warp shuffles: every thread of a block runs as a fiber on
// the calling thread, switching only where a lane must wait for the rest of its warp, so
// lanes exchange values as a warp's do. A lane that exits or diverges while the others of
// its warp wait at a shuffle (undefined on a GPU) is reported, not left hanging. Blocks of
// whole warps only.
void run_cooperative(dim3 grid, dim3 block, void (*body)(void*), void* closure);

template <typename... Params, typename... Args>
void launch_cooperative(dim3 grid, dim3 block, void (*kernel)(Params...), Args... args) {
  check_launch_config(grid, block);
  auto call = [&]() { kernel(args...); };
  run_cooperative(grid, block, [](void* c) { (*static_cast<decltype(call)*>(c))(); }, &call);
}

// This lane's `bytes` at `mine` sent to its warp; fills `theirs` with lane `src`'s. Throws
// outside a cooperative launch and for a mask other than the full warp.
void warp_exchange(unsigned mask, const void* mine, void* theirs, size_t bytes, unsigned src);

// Whether [p, p + nbytes) lies inside one live emulated device allocation.
bool is_device_range(const void* p, size_t nbytes);

}  // namespace moegrad::cuda::emu

// ---- warp shuffles (width 32) --------------------------------------------------------------
template <typename T>
T __shfl_sync(unsigned mask, T value, int src_lane) {
  T out;
  moegrad::cuda::emu::warp_exchange(mask, &value, &out, sizeof(T), static_cast<unsigned>(src_lane) & 31u);
  return out;
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask) {
  T out;
  moegrad::cuda::emu::warp_exchange(mask, &value, &out, sizeof(T), (threadIdx.x ^ static_cast<unsigned>(lane_mask)) & 31u);
  return out;
}
