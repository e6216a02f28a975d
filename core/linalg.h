#pragma once
#include "moegrad/core/tensor.h"

namespace moegrad::core {

// torch.matmul semantics: 1-d operands are promoted (and the added dim removed after),
// 2-d is a gemm, more dims are batches with broadcast batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace moegrad::core

namespace moegrad::core {

// x (rows, in) times weight (out, in) transposed, plus bias (out) when it is defined:
// torch's addmm, a gemm accumulating onto rows that already hold the bias, so the bias
// costs no extra pass.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace moegrad::core
