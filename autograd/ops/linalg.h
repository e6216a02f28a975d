#pragma once
#include "moegrad/core/tensor.h"

namespace moegrad {

// torch.matmul: 1-d operands promoted, batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);

// torch.nn.functional.linear: x (..., in) W^T + bias, with W (out, in) and bias (out) or an
// undefined Tensor for none.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace moegrad
