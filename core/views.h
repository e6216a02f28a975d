#pragma once
// Views: new shape/strides/offset over the same storage, never a copy (except
// reshape of a tensor whose strides cannot express the new shape, and contiguous()).
// These raw versions record no gradient; moegrad::reshape etc. in autograd/ do.
#include "moegrad/core/tensor.h"

namespace moegrad::core {

// Same storage, shape and strides, with no autograd metadata.
Tensor alias(const Tensor& x);
Tensor as_strided(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset);

// One dim may be -1 (inferred). A view where the strides allow it, else a copy.
Tensor reshape(const Tensor& x, const Shape& shape);
// Like reshape but never copies: throws when the strides cannot express the shape.
Tensor view(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const Axes& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
// Elements [start, start + length) of dim.
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
// Python-style x[..., start:end:step, ...] with negative and clamped bounds.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
// Broadcast to `shape` with stride 0 on the new or size-1 dims; -1 keeps a dim.
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x);  // every size-1 dim
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor flatten(const Tensor& x);
// x itself when already contiguous, else a contiguous copy.
Tensor contiguous(const Tensor& x);
// Always a fresh contiguous copy.
Tensor clone(const Tensor& x);

}  // namespace moegrad::core
