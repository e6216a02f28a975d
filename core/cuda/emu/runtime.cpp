// The emulated CUDA runtime and cuBLAS of cuda_emu.h. Device memory is host memory, tracked
// so that copies and gemm operands can be checked to point into live device allocations.
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>
#include <algorithm>

#include "moegrad/core/cuda/emu/cuda_emu.h"

thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace {

std::mutex& registry_mutex() {
  static std::mutex mu;
  return mu;
}
// Start address -> size of every live allocation.
std::map<uintptr_t, size_t>& registry() {
  static auto* live = new std::map<uintptr_t, size_t>();  // leaked: frees may come at exit
  return *live;
}

thread_local cudaError_t last_error = cudaSuccess;
thread_local std::string last_cublas_message;

cudaError_t fail(cudaError_t e) {
  last_error = e;
  return e;
}

// Records why a cuBLAS call was refused; cublasGetStatusString reports it.
cublasStatus_t refuse(const std::string& why) {
  last_cublas_message = "CUBLAS_STATUS_INVALID_VALUE (emulated check: " + why + ")";
  return CUBLAS_STATUS_INVALID_VALUE;
}

}  // namespace

namespace moegrad::cuda::emu {
bool is_device_range(const void* p, size_t nbytes) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto it = registry().upper_bound(a);
  if (it == registry().begin()) return false;
  --it;
  return a >= it->first && a + nbytes <= it->first + it->second;
}

void check_launch_config(dim3 grid, dim3 block) {
  const bool ok = grid.x >= 1 && grid.x <= 2147483647u && grid.y >= 1 && grid.y <= 65535 && grid.z >= 1 &&
                  grid.z <= 65535 && block.x >= 1 && block.y >= 1 && block.z >= 1 &&
                  static_cast<uint64_t>(block.x) * block.y * block.z <= 1024 && block.z <= 64;
  if (!ok)
    throw std::runtime_error("emulated launch refused (cudaErrorInvalidConfiguration): grid (" +
                             std::to_string(grid.x) + ", " + std::to_string(grid.y) + ", " + std::to_string(grid.z) +
                             "), block (" + std::to_string(block.x) + ", " + std::to_string(block.y) + ", " +
                             std::to_string(block.z) + ")");
}

}  // namespace moegrad::cuda::emu

using moegrad::cuda::emu::is_device_range;

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorCudartUnloading: return "cudaErrorCudartUnloading";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
  }
  return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t e) { return cudaGetErrorName(e); }

cudaError_t cudaGetLastError() {
  const cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }

struct CUstream_st {};
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = new CUstream_st;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaMalloc(void** ptr, size_t nbytes) {
  // 256-byte aligned, as cudaMalloc's results are.
  const size_t bytes = (std::max<size_t>(nbytes, 1) + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, bytes);
  if (!p) return fail(cudaErrorMemoryAllocation);
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry()[reinterpret_cast<uintptr_t>(p)] = nbytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    auto it = registry().find(reinterpret_cast<uintptr_t>(ptr));
    if (it == registry().end()) return fail(cudaErrorInvalidValue);
    registry().erase(it);
  }
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind, cudaStream_t) {
  if (nbytes == 0) return cudaSuccess;
  const bool dst_dev = is_device_range(dst, nbytes), src_dev = is_device_range(src, nbytes);
  bool ok = false;
  switch (kind) {
    case cudaMemcpyHostToDevice: ok = dst_dev && !src_dev; break;
    case cudaMemcpyDeviceToHost: ok = src_dev && !dst_dev; break;
    case cudaMemcpyDeviceToDevice: ok = src_dev && dst_dev; break;
    default: ok = false;  // the backend always names the direction
  }
  if (!ok) return fail(cudaErrorInvalidValue);
  std::memmove(dst, src, nbytes);
  return cudaSuccess;
}

// ---- cuBLAS -----------------------------------------------------------------------------

struct cublasContext {
  cudaStream_t stream = nullptr;
};

const char* cublasGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE: return last_cublas_message.c_str();
  }
  return "CUBLAS_STATUS_UNKNOWN";
}
cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, size_t nbytes) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  // cuBLAS wants 256-byte aligned device memory here.
  if (nbytes && (!is_device_range(workspace, nbytes) || reinterpret_cast<uintptr_t>(workspace) % 256))
    return refuse("workspace is not 256-byte aligned device memory");
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t) {
  return handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

namespace {

std::string str(long long v) { return std::to_string(v); }

// cuBLAS's argument rules for C = alpha op(A) op(B) + beta C, column-major, with C m x n
// and op(A) m x k: the checks it documents as CUBLAS_STATUS_INVALID_VALUE, plus what a
// GPU would only show as a fault or a race (operands outside device memory, misaligned
// pointers, batches of C that overlap).
cublasStatus_t check_shape(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           int lda, int ldb, int ldc, int batch) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (ta != CUBLAS_OP_N && ta != CUBLAS_OP_T) return refuse("transa is neither N nor T");
  if (tb != CUBLAS_OP_N && tb != CUBLAS_OP_T) return refuse("transb is neither N nor T");
  if (m < 0 || n < 0 || k < 0 || batch < 0)
    return refuse("negative size: m=" + str(m) + " n=" + str(n) + " k=" + str(k) + " batch=" + str(batch));
  const int a_rows = ta == CUBLAS_OP_N ? m : k, b_rows = tb == CUBLAS_OP_N ? k : n;
  if (lda < std::max(1, a_rows)) return refuse("lda=" + str(lda) + " < max(1, rows of A=" + str(a_rows) + ")");
  if (ldb < std::max(1, b_rows)) return refuse("ldb=" + str(ldb) + " < max(1, rows of B=" + str(b_rows) + ")");
  if (ldc < std::max(1, m)) return refuse("ldc=" + str(ldc) + " < max(1, m=" + str(m) + ")");
  return CUBLAS_STATUS_SUCCESS;
}

template <typename T>
cublasStatus_t check_matrix(const char* name, const T* p, int rows, int cols, int ld) {
  if (rows == 0 || cols == 0) return CUBLAS_STATUS_SUCCESS;
  if (reinterpret_cast<uintptr_t>(p) % alignof(T)) return refuse(std::string(name) + " is misaligned");
  const size_t extent = (static_cast<size_t>(cols) - 1) * static_cast<size_t>(ld) + static_cast<size_t>(rows);
  if (!is_device_range(p, extent * sizeof(T)))
    return refuse(std::string(name) + " (" + str(rows) + " x " + str(cols) + ", ld " + str(ld) +
                  ") is not inside one device allocation");
  return CUBLAS_STATUS_SUCCESS;
}

template <typename T>
void gemm_one(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, T alpha, const T* a, int lda,
              const T* b, int ldb, T beta, T* c, int ldc) {
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      T acc = 0;
      for (int l = 0; l < k; ++l) {
        const T av = ta == CUBLAS_OP_N ? a[i + static_cast<int64_t>(l) * lda] : a[l + static_cast<int64_t>(i) * lda];
        const T bv = tb == CUBLAS_OP_N ? b[l + static_cast<int64_t>(j) * ldb] : b[j + static_cast<int64_t>(l) * ldb];
        acc += av * bv;
      }
      T& out = c[i + static_cast<int64_t>(j) * ldc];
      // beta == 0 means C is not read, as in cuBLAS (it may hold NaN).
      out = beta == T(0) ? alpha * acc : alpha * acc + beta * out;
    }
}

template <typename T>
cublasStatus_t gemm_batch(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                          const T* alpha, const T* const* a, int lda, const T* const* b, int ldb,
                          const T* beta, T* const* c, int ldc, int batch) {
  if (cublasStatus_t s = check_shape(h, ta, tb, m, n, k, lda, ldb, ldc, batch); s != CUBLAS_STATUS_SUCCESS)
    return s;
  if (!alpha || !beta) return refuse("alpha or beta is null");
  const int a_rows = ta == CUBLAS_OP_N ? m : k, a_cols = ta == CUBLAS_OP_N ? k : m;
  const int b_rows = tb == CUBLAS_OP_N ? k : n, b_cols = tb == CUBLAS_OP_N ? n : k;
  for (int i = 0; i < batch; ++i) {
    for (cublasStatus_t s : {check_matrix("A", a[i], a_rows, a_cols, lda), check_matrix("B", b[i], b_rows, b_cols, ldb),
                             check_matrix("C", static_cast<const T*>(c[i]), m, n, ldc)})
      if (s != CUBLAS_STATUS_SUCCESS) return s;
  }
  for (int i = 0; i < batch; ++i) gemm_one(ta, tb, m, n, k, *alpha, a[i], lda, b[i], ldb, *beta, c[i], ldc);
  return CUBLAS_STATUS_SUCCESS;
}

template <typename T>
cublasStatus_t gemm_strided(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const T* alpha, const T* a, int lda, long long sa, const T* b, int ldb, long long sb,
                            const T* beta, T* c, int ldc, long long sc, int batch) {
  if (cublasStatus_t s = check_shape(h, ta, tb, m, n, k, lda, ldb, ldc, batch); s != CUBLAS_STATUS_SUCCESS)
    return s;
  // Batches of C that share elements would race on a GPU.
  if (batch > 1 && m > 0 && n > 0 && (sc < 0 ? -sc : sc) < static_cast<long long>(ldc) * n)
    return refuse("strideC=" + str(sc) + " < ldc * n=" + str(static_cast<long long>(ldc) * n) +
                  ": the batches of C overlap");
  std::vector<const T*> ap(batch), bp(batch);
  std::vector<T*> cp(batch);
  for (int i = 0; i < batch; ++i) {
    ap[i] = a + i * sa;
    bp[i] = b + i * sb;
    cp[i] = c + i * sc;
  }
  return gemm_batch<T>(h, ta, tb, m, n, k, alpha, ap.data(), lda, bp.data(), ldb, beta, cp.data(), ldc, batch);
}

template <typename T>
cublasStatus_t gemm_pointers(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                             const T* alpha, const T* const a[], int lda, const T* const b[], int ldb,
                             const T* beta, T* const c[], int ldc, int batch) {
  // The pointer arrays themselves must be in device memory.
  const size_t bytes = static_cast<size_t>(batch) * sizeof(void*);
  if (batch > 0 && (!is_device_range(a, bytes) || !is_device_range(b, bytes) || !is_device_range(c, bytes)))
    return refuse("the pointer arrays of a batched gemm are not in device memory");
  return gemm_batch<T>(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, batch);
}

}  // namespace

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                         int n, int k, const float* alpha, const float* a, int lda,
                                         long long sa, const float* b, int ldb, long long sb, const float* beta,
                                         float* c, int ldc, long long sc, int batch) {
  return gemm_strided<float>(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}
cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                         int n, int k, const double* alpha, const double* a, int lda,
                                         long long sa, const double* b, int ldb, long long sb,
                                         const double* beta, double* c, int ldc, long long sc, int batch) {
  return gemm_strided<double>(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}
cublasStatus_t cublasSgemmBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                  int k, const float* alpha, const float* const a[], int lda,
                                  const float* const b[], int ldb, const float* beta, float* const c[], int ldc,
                                  int batch) {
  return gemm_pointers<float>(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, batch);
}
cublasStatus_t cublasDgemmBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                  int k, const double* alpha, const double* const a[], int lda,
                                  const double* const b[], int ldb, const double* beta, double* const c[],
                                  int ldc, int batch) {
  return gemm_pointers<double>(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, batch);
}
