#pragma once
#include "core/tensor.h"

namespace moegrad {

// torch.matmul: 1-d operands promoted, batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace moegrad
