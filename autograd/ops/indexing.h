#pragma once
// Differentiable index-driven ops; the indices themselves carry no gradient.
#include "moegrad/core/indexing.h"
#include "moegrad/core/tensor.h"

namespace moegrad {

Tensor gather(const Tensor& x, int64_t axis, const Tensor& index, IndexCheck check = IndexCheck::checked);
Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src,
                   IndexCheck check = IndexCheck::checked);
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index, IndexCheck check = IndexCheck::checked);
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype = DType::i64,
               IndexCheck check = IndexCheck::checked);

}  // namespace moegrad
