#pragma once
#include "core/tensor.h"

namespace moegrad::core {

// torch.matmul semantics: 1-d operands are promoted (and the added dim removed after),
// 2-d is a gemm, more dims are batches with broadcast batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace moegrad::core
