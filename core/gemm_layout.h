#pragma once
// How a BLAS gemm reads a row-major (rows, cols) matrix view with strides (sr, sc): plain
// or transposed, and with which leading dimension. One rule for both backends (OpenBLAS's
// row-major gemm and cuBLAS through the C^T = B^T A^T trick), so a view is copied on one
// exactly when it is on the other.
#include <algorithm>
#include <cstdint>

namespace moegrad {

struct GemmOperand {
  bool trans;
  int64_t ld;
};

// False when gemm cannot read the view at all (the caller makes it contiguous).
inline bool gemm_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc, GemmOperand& g) {
  if ((cols == 1 || sc == 1) && (rows == 1 || sr >= std::max<int64_t>(cols, 1))) {
    g = {false, rows == 1 ? std::max<int64_t>(cols, 1) : sr};
    return true;
  }
  if ((rows == 1 || sr == 1) && (cols == 1 || sc >= std::max<int64_t>(rows, 1))) {
    g = {true, cols == 1 ? std::max<int64_t>(rows, 1) : sc};
    return true;
  }
  return false;
}

}  // namespace moegrad
