// The emulation's own checks (MOEGRAD_CUDA_EMU builds only): its cuBLAS stand-ins refuse
// what cuBLAS refuses, its runtime refuses copies in the wrong direction, and its launch
// refuses configurations a GPU would. Without these the emulated suite could pass calls
// that fail on a GPU.
#ifdef MOEGRAD_CUDA_EMU
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "moegrad/core/cuda/api.h"

namespace {

struct DeviceBuffer {
  explicit DeviceBuffer(size_t bytes) { REQUIRE(cudaMalloc(&p, bytes) == cudaSuccess); }
  ~DeviceBuffer() { cudaFree(p); }
  float* f() const { return static_cast<float*>(p); }
  void* p = nullptr;
};

void noop_kernel() {}

// Each lane: its xor-16 partner's value, then lane 3's, then a butterfly sum of the warp.
void shuffle_kernel(const int64_t* in, int64_t* partner, int64_t* from3, int64_t* sum) {
  const unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t v = in[t];
  partner[t] = __shfl_xor_sync(0xffffffffu, v, 16);
  from3[t] = __shfl_sync(0xffffffffu, v, 3);
  int64_t s = v;
  for (int d = 16; d >= 1; d /= 2) s += __shfl_xor_sync(0xffffffffu, s, d);
  sum[t] = s;
}

// Lane 5 of each warp leaves before the shuffle the others wait at.
void divergent_kernel(int64_t* out) {
  if (threadIdx.x % 32 == 5) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, int64_t{1}, 1);
}

void half_mask_kernel(int64_t* out) { out[threadIdx.x] = __shfl_sync(0x0000ffffu, int64_t{1}, 0); }

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

TEST_CASE("emulated warps shuffle as a GPU's do, and divergence at a shuffle is reported", "[cuda][emulation]") {
  using moegrad::cuda::emu::launch_cooperative;
  const unsigned blocks = 3, threads = 64, n = blocks * threads;
  std::vector<int64_t> in(n), partner(n), from3(n), sum(n);
  for (unsigned i = 0; i < n; ++i) in[i] = 1000 + 7 * i;
  launch_cooperative(dim3(blocks), dim3(threads), shuffle_kernel, in.data(), partner.data(), from3.data(), sum.data());
  for (unsigned t = 0; t < n; ++t) {
    const unsigned warp0 = t / 32 * 32, lane = t % 32;
    INFO("thread " << t);
    CHECK(partner[t] == in[warp0 + (lane ^ 16)]);
    CHECK(from3[t] == in[warp0 + 3]);
    int64_t expect = 0;
    for (unsigned l = 0; l < 32; ++l) expect += in[warp0 + l];
    CHECK(sum[t] == expect);
  }
  std::vector<int64_t> out(64);
  CHECK_THROWS_WITH(launch_cooperative(dim3(1), dim3(64), divergent_kernel, out.data()),
                    Catch::Contains("wait at a shuffle"));
  CHECK_THROWS_WITH(launch_cooperative(dim3(1), dim3(48), noop_kernel), Catch::Contains("whole warps"));
  CHECK_THROWS_WITH(launch_cooperative(dim3(1), dim3(32), half_mask_kernel, out.data()),
                    Catch::Contains("whole warps"));
  // A shuffle in a kernel launched a thread at a time would hang on a GPU's semantics.
  CHECK_THROWS_WITH(moegrad::cuda::emu::launch(dim3(1), dim3(32), half_mask_kernel, out.data()),
                    Catch::Contains("outside a cooperative launch"));
}

TEST_CASE("emulated launch refuses configurations a GPU refuses", "[cuda][emulation]") {
  CHECK_NOTHROW(moegrad::cuda::emu::launch(dim3(2), dim3(1024), noop_kernel));
  CHECK_THROWS(moegrad::cuda::emu::launch(dim3(2), dim3(1025), noop_kernel));
  CHECK_THROWS(moegrad::cuda::emu::launch(dim3(1, 65536), dim3(32), noop_kernel));
  CHECK_THROWS(moegrad::cuda::emu::launch(dim3(0), dim3(32), noop_kernel));
}
#endif
