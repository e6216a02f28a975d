// Batched matmul on cuBLAS. cuBLAS is column-major, so the row-major product C = A B is
// computed as C^T = B^T A^T: a row-major matrix is its transpose in column-major with the
// same leading dimension, so no operand is copied or transposed. Transposed views become
// the op flags; batches with one stride per operand (stride 0 for a broadcast operand) go
// to the strided-batched gemm, any other batch layout to the pointer-array gemm. Only a
// matrix whose inner strides gemm cannot express at all is made contiguous, as on the CPU.
#include <climits>
#include <vector>

#include "moegrad/core/cpu/strided_loop.h"
#include "moegrad/core/creation.h"
#include "moegrad/core/cuda/backend_impl.h"
#include "moegrad/core/cuda/check.h"
#include "moegrad/core/gemm_layout.h"

namespace moegrad::cuda {

namespace {

int to_int(int64_t v, const char* what) {
  MOEGRAD_CHECK(v >= 0 && v <= INT_MAX, "matmul: ", what, " = ", v, " exceeds cuBLAS's int range");
  return static_cast<int>(v);
}

cublasOperation_t op_of(const GemmOperand& g) { return g.trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

cublasStatus_t gemm_strided(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const float* alpha, const float* a, int lda, long long sa, const float* b, int ldb,
                            long long sb, const float* beta, float* c, int ldc, long long sc, int batch) {
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}
cublasStatus_t gemm_strided(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const double* alpha, const double* a, int lda, long long sa, const double* b, int ldb,
                            long long sb, const double* beta, double* c, int ldc, long long sc, int batch) {
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}
cublasStatus_t gemm_pointers(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                             const float* alpha, const float* const* a, int lda, const float* const* b, int ldb,
                             const float* beta, float* const* c, int ldc, int batch) {
  return cublasSgemmBatched(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, batch);
}
cublasStatus_t gemm_pointers(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                             const double* alpha, const double* const* a, int lda, const double* const* b, int ldb,
                             const double* beta, double* const* c, int ldc, int batch) {
  return cublasDgemmBatched(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, batch);
}

}  // namespace

void CudaBackend::matmul(const Tensor& a_in, const Tensor& b_in, const Tensor& out, bool accumulate) {
  const char* name = "matmul";
  ctx_.activate(name);
  const int64_t nd = out.dim();
  const int64_t m = out.shape()[nd - 2], n = out.shape()[nd - 1], k = a_in.shape()[nd - 1];
  if (k == 0) {
    if (!accumulate) fill(out, 0.0);
    return;
  }
  if (out.numel() == 0) return;
  GemmOperand ga{}, gb{};
  Tensor a = a_in, b = b_in;
  if (!gemm_layout(m, k, a.strides()[nd - 2], a.strides()[nd - 1], ga)) {
    a = empty(a.shape(), a.dtype(), *this);
    copy(a_in, a);
    gemm_layout(m, k, a.strides()[nd - 2], a.strides()[nd - 1], ga);
  }
  if (!gemm_layout(k, n, b.strides()[nd - 2], b.strides()[nd - 1], gb)) {
    b = empty(b.shape(), b.dtype(), *this);
    copy(b_in, b);
    gemm_layout(k, n, b.strides()[nd - 2], b.strides()[nd - 1], gb);
  }
  const Shape batch(out.shape().begin(), out.shape().end() - 2);
  const Shape sa(a.strides().begin(), a.strides().end() - 2);
  const Shape sb(b.strides().begin(), b.strides().end() - 2);
  const Shape so(out.strides().begin(), out.strides().end() - 2);
  // Column-major C^T (n x m) = op(B)^T (n x k) op(A)^T (k x m): B is the first operand.
  const int cm = to_int(n, "n"), cn = to_int(m, "m"), ck = to_int(k, "k");
  const int lda = to_int(gb.ld, "leading dimension of b"), ldb = to_int(ga.ld, "leading dimension of a");
  const int ldc = to_int(std::max<int64_t>(n, 1), "leading dimension of out");
  const cpu::MergedLayout<3> merged = cpu::merge_dims<3>(batch, {&sa, &sb, &so});
  dispatch_float(out.dtype(), name, [&]<typename T>() {
    const T alpha = 1, beta = accumulate ? 1 : 0;
    const T* ap = base_ptr<T>(a) + a.offset();
    const T* bp = base_ptr<T>(b) + b.offset();
    T* op = base_ptr<T>(out) + out.offset();
    if (merged.shape.size() <= 1) {
      const int count = merged.shape.empty() ? 1 : to_int(merged.shape[0], "batch count");
      const long long stride_a = merged.shape.empty() ? 0 : merged.strides[0][0];
      const long long stride_b = merged.shape.empty() ? 0 : merged.strides[1][0];
      const long long stride_c = merged.shape.empty() ? 0 : merged.strides[2][0];
      MOEGRAD_CUDA_CALL(name, gemm_strided(ctx_.blas(), op_of(gb), op_of(ga), cm, cn, ck, &alpha, bp, lda, stride_b,
                                           ap, ldb, stride_a, &beta, op, ldc, stride_c, count));
    } else {
      // Batch dims that no single stride describes: one pointer per batch, in device memory.
      std::vector<const T*> host_a, host_b;
      std::vector<T*> host_c;
      cpu::for_each_element<3>(batch, {&sa, &sb, &so}, {0, 0, 0}, [&](const cpu::Offsets<3>& o) {
        host_a.push_back(ap + o[0]);
        host_b.push_back(bp + o[1]);
        host_c.push_back(op + o[2]);
      });
      const int count = to_int(static_cast<int64_t>(host_c.size()), "batch count");
      const size_t bytes = host_c.size() * sizeof(void*);
      DeviceScratch pa(memory_, bytes), pb(memory_, bytes), pc(memory_, bytes);
      // Pageable host memory: each copy returns once its source is staged.
      MOEGRAD_CUDA_CALL(name, cudaMemcpyAsync(pa.as<void>(), host_a.data(), bytes, cudaMemcpyHostToDevice, ctx_.stream()));
      MOEGRAD_CUDA_CALL(name, cudaMemcpyAsync(pb.as<void>(), host_b.data(), bytes, cudaMemcpyHostToDevice, ctx_.stream()));
      MOEGRAD_CUDA_CALL(name, cudaMemcpyAsync(pc.as<void>(), host_c.data(), bytes, cudaMemcpyHostToDevice, ctx_.stream()));
      MOEGRAD_CUDA_CALL(name, gemm_pointers(ctx_.blas(), op_of(gb), op_of(ga), cm, cn, ck, &alpha, pb.as<const T*>(),
                                            lda, pa.as<const T*>(), ldb, &beta, pc.as<T*>(), ldc, count));
    }
    ctx_.check_launch(name);
  });
}

}  // namespace moegrad::cuda
