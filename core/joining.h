#pragma once
// Joining and splitting along one axis. split/chunk return views.
#include "moegrad/core/tensor.h"

namespace moegrad::core {

Tensor cat(const TensorList& xs, int64_t axis);
Tensor stack(const TensorList& xs, int64_t axis);
// Pieces of `size` (the last may be smaller), or of the given sizes.
TensorList split(const Tensor& x, int64_t size, int64_t axis);
TensorList split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis);
// n pieces of ceil(len / n) (torch.chunk: possibly fewer than n).
TensorList chunk(const Tensor& x, int64_t n, int64_t axis);

}  // namespace moegrad::core
