// The emulation's own checks (MOEGRAD_CUDA_EMU builds only): its cuBLAS stand-ins refuse
// what cuBLAS refuses, its runtime refuses copies in the wrong direction, and its launch
// refuses configurations a GPU would. Without these the emulated suite could pass calls
// that fail on a GPU.
#ifdef MOEGRAD_CUDA_EMU
#include <catch2/catch.hpp>

#include <string>

#include "core/cuda/api.h"

namespace {

struct DeviceBuffer {
  explicit DeviceBuffer(size_t bytes) { REQUIRE(cudaMalloc(&p, bytes) == cudaSuccess); }
  ~DeviceBuffer() { cudaFree(p); }
  float* f() const { return static_cast<float*>(p); }
  void* p = nullptr;
};

void noop_kernel() {}

}  // namespace

TEST_CASE("emulated cuBLAS refuses what cuBLAS refuses", "[cuda][emulation]") {
  cublasHandle_t h;
  REQUIRE(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS);
  DeviceBuffer a(4096), b(4096), c(4096);
  const float one = 1, zero = 0;
  // C (4 x 3) = A (4 x 5) B (5 x 3), column-major: lda >= 4, ldb >= 5, ldc >= 4.
  auto gemm = [&](cublasOperation_t ta, int lda, int ldb, int ldc, const float* ap, long long sc, int batch) {
    return cublasSgemmStridedBatched(h, ta, CUBLAS_OP_N, 4, 3, 5, &one, ap, lda, 0, b.f(), ldb, 0, &zero, c.f(), ldc,
                                     sc, batch);
  };
  CHECK(gemm(CUBLAS_OP_N, 4, 5, 4, a.f(), 12, 2) == CUBLAS_STATUS_SUCCESS);
  CHECK(gemm(CUBLAS_OP_N, 3, 5, 4, a.f(), 12, 1) == CUBLAS_STATUS_INVALID_VALUE);
  CHECK_THAT(std::string(cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE)), Catch::Contains("lda=3"));
  CHECK(gemm(CUBLAS_OP_T, 4, 5, 4, a.f(), 12, 1) == CUBLAS_STATUS_INVALID_VALUE);  // op(A) = A^T: lda >= k = 5
  CHECK(gemm(CUBLAS_OP_T, 5, 5, 4, a.f(), 12, 1) == CUBLAS_STATUS_SUCCESS);
  CHECK(gemm(CUBLAS_OP_N, 4, 4, 4, a.f(), 12, 1) == CUBLAS_STATUS_INVALID_VALUE);  // ldb < k
  CHECK(gemm(CUBLAS_OP_N, 4, 5, 3, a.f(), 12, 1) == CUBLAS_STATUS_INVALID_VALUE);  // ldc < m
  CHECK(gemm(CUBLAS_OP_N, 4, 5, 4, a.f(), 11, 2) == CUBLAS_STATUS_INVALID_VALUE);  // batches of C overlap
  float host[64] = {};
  CHECK(gemm(CUBLAS_OP_N, 4, 5, 4, host, 12, 1) == CUBLAS_STATUS_INVALID_VALUE);  // A in host memory
  CHECK(gemm(CUBLAS_OP_N, 4, 5, 4, a.f() + 1020, 12, 1) == CUBLAS_STATUS_INVALID_VALUE);  // A runs off its block
  CHECK(gemm(CUBLAS_OP_N, 4, 5, 4, reinterpret_cast<const float*>(static_cast<char*>(a.p) + 2), 12, 1) ==
        CUBLAS_STATUS_INVALID_VALUE);  // misaligned
  // Pointer arrays must themselves be in device memory.
  const float* ha[1] = {a.f()};
  const float* hb[1] = {b.f()};
  float* hc[1] = {c.f()};
  CHECK(cublasSgemmBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 5, &one, ha, 4, hb, 5, &zero, hc, 4, 1) ==
        CUBLAS_STATUS_INVALID_VALUE);
  cublasDestroy(h);
}

TEST_CASE("emulated runtime refuses copies in the wrong direction", "[cuda][emulation]") {
  DeviceBuffer d(64);
  char host[64] = {};
  CHECK(cudaMemcpyAsync(d.p, host, 64, cudaMemcpyHostToDevice, nullptr) == cudaSuccess);
  CHECK(cudaMemcpyAsync(host, d.p, 64, cudaMemcpyHostToDevice, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaMemcpyAsync(host, d.p, 65, cudaMemcpyDeviceToHost, nullptr) == cudaErrorInvalidValue);
  (void)cudaGetLastError();
}

TEST_CASE("emulated launch refuses configurations a GPU refuses", "[cuda][emulation]") {
  CHECK_NOTHROW(moegrad::cuda::emu::launch(dim3(2), dim3(1024), noop_kernel));
  CHECK_THROWS(moegrad::cuda::emu::launch(dim3(2), dim3(1025), noop_kernel));
  CHECK_THROWS(moegrad::cuda::emu::launch(dim3(1, 65536), dim3(32), noop_kernel));
  CHECK_THROWS(moegrad::cuda::emu::launch(dim3(0), dim3(32), noop_kernel));
}
#endif
