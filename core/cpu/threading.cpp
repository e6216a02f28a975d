#include <cblas.h>

#include <algorithm>

#include "core/cpu/blas_threads.h"
#include "core/error.h"
#include "core/threading.h"

namespace moegrad {

namespace {
int g_threads = 1;
int g_blas_threads = -1;  // what OpenBLAS was last told; -1 before the first call
}

void set_num_threads(int n) {
  MOEGRAD_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  g_threads = n;
  cpu::use_blas_threads(n);
}

int num_threads() { return g_threads; }

namespace cpu {

// Once its threads exist, openblas_set_num_threads is a plain store: cheap enough per gemm.
void use_blas_threads(int n) {
  if (n == g_blas_threads) return;
  openblas_set_num_threads(n);
  g_blas_threads = n;
}

}  // namespace cpu

}  // namespace moegrad
