// Batched matmul on OpenBLAS gemm. Transposed views are handed to gemm as transposes,
// not copied; only operands whose inner strides gemm cannot express are made contiguous.
#include <cblas.h>

#include "moegrad/core/cpu/blas_threads.h"
#include "moegrad/core/cpu/cpu_backend.h"
#include "moegrad/core/cpu/strided_loop.h"
#include "moegrad/core/creation.h"
#include "moegrad/core/gemm_layout.h"
#include "moegrad/core/threading.h"

namespace moegrad::cpu {

namespace {

CBLAS_TRANSPOSE op_of(const GemmOperand& g) { return g.trans ? CblasTrans : CblasNoTrans; }

template <typename T>
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

// OpenBLAS splits every gemm over all its threads, and on small products or a short
// inner dimension the split costs more than it gains (measured on these machines: a
// 1024x340x64 sgemm takes 340 us on 1 thread, 510 us on 2; 256^3 takes 250 and 170).
// Below this work, or with k < 128, a gemm runs on one thread.
constexpr double kThreadedGemmFlops = 3.2e7;

int gemm_threads(int64_t m, int64_t n, int64_t k) {
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  return flops >= kThreadedGemmFlops && k >= 128 ? num_threads() : 1;
}

}  // namespace

void CpuBackend::matmul(const Tensor& a_in, const Tensor& b_in, const Tensor& out, bool accumulate) {
  const int64_t nd = out.dim();
  const int64_t m = out.shape()[nd - 2], n = out.shape()[nd - 1], k = a_in.shape()[nd - 1];
  if (k == 0) {
    if (!accumulate) fill(out, 0.0);
    return;
  }
  GemmOperand ga{}, gb{};
  Tensor a = a_in, b = b_in;
  // A matrix gemm cannot read is copied once as a whole (contiguous batches).
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
  Shape batch(out.shape().begin(), out.shape().end() - 2);
  Shape sa(a.strides().begin(), a.strides().end() - 2);
  Shape sb(b.strides().begin(), b.strides().end() - 2);
  Shape so(out.strides().begin(), out.strides().end() - 2);
  use_blas_threads(gemm_threads(m, n, k));
  dispatch_float(out.dtype(), "matmul", [&]<typename T>() {
    const T* ap = base_ptr<T>(a);
    const T* bp = base_ptr<T>(b);
    T* op = base_ptr<T>(out);
    for_each_element<3>(batch, {&sa, &sb, &so}, {a.offset(), b.offset(), out.offset()},
                        [&](const Offsets<3>& o) {
                          gemm<T>(op_of(ga), op_of(gb), m, n, k, ap + o[0], ga.ld, bp + o[1], gb.ld,
                                  accumulate ? T(1) : T(0), op + o[2], std::max<int64_t>(n, 1));
                        });
  });
}

}  // namespace moegrad::cpu
