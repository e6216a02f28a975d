#pragma once
// Index-driven ops. Indices are int64 and bounds-checked; an index out of range names
// the op, the bad value and the valid range.
#include "moegrad/core/tensor.h"

namespace moegrad {
// Whether an index op checks its indices against the bound. Checking reads the smallest
// and largest index back to the host, a full sync on a GPU, so indices the library made
// itself (routing choices, token ids, the indices of an op already checked) are trusted;
// indices from outside (user calls, targets, data) are checked.
enum class IndexCheck : uint8_t { checked, trusted };
}  // namespace moegrad

namespace moegrad::core {

// out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (torch.gather).
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index, IndexCheck check = IndexCheck::checked);
// A copy of x with src added at index along axis (torch.Tensor.scatter_add).
Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src,
                   IndexCheck check = IndexCheck::checked);
// In place form, for accumulation into an existing buffer.
void scatter_add_(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src,
                  IndexCheck check = IndexCheck::checked);
// Entries of x at the 1-d index along axis (torch.index_select).
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index, IndexCheck check = IndexCheck::checked);
// The index of index_select, shaped and broadcast so that gather gives the same result.
Tensor index_select_as_gather_index(const Tensor& index, const Shape& out_shape, int64_t axis);
// A trailing axis of size num_classes with a 1 at each index (int64 unless dtype says).
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype = DType::i64,
               IndexCheck check = IndexCheck::checked);

}  // namespace moegrad::core

namespace moegrad::core {

// Row-major positions (int64, ascending) of the true elements of a bool tensor.
Tensor flat_nonzero(const Tensor& mask);

}  // namespace moegrad::core
