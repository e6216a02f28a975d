#pragma once
// Differentiable joining and splitting along one axis.
#include "moegrad/core/tensor.h"

namespace moegrad {

Tensor cat(const TensorList& xs, int64_t axis);
Tensor stack(const TensorList& xs, int64_t axis);
TensorList split(const Tensor& x, int64_t size, int64_t axis);
TensorList split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis);
TensorList chunk(const Tensor& x, int64_t n, int64_t axis);

}  // namespace moegrad
