#pragma once
// Index-driven ops. Indices are int64 and bounds-checked; an index out of range names
// the op, the bad value and the valid range.
#include "core/tensor.h"

namespace moegrad::core {

// out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (torch.gather).
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index);
// A copy of x with src added at index along axis (torch.Tensor.scatter_add).
Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src);
// In place form, for accumulation into an existing buffer.
void scatter_add_(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src);
// Entries of x at the 1-d index along axis (torch.index_select).
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index);
// The index of index_select, shaped and broadcast so that gather gives the same result.
Tensor index_select_as_gather_index(const Tensor& index, const Shape& out_shape, int64_t axis);
// A trailing axis of size num_classes with a 1 at each index (int64 unless dtype says).
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype = DType::i64);

}  // namespace moegrad::core

namespace moegrad::core {

// Row-major positions (int64, ascending) of the true elements of a bool tensor.
Tensor flat_nonzero(const Tensor& mask);

}  // namespace moegrad::core
