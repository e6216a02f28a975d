#include "moegrad/core/indexing.h"

#include "moegrad/core/backend.h"
#include "moegrad/core/checked_math.h"
#include "moegrad/core/creation.h"
#include "moegrad/core/elementwise.h"
#include "moegrad/core/reduction.h"
#include "moegrad/core/views.h"

namespace moegrad::core {

namespace {
void check_index(const Tensor& index, int64_t bound, const char* op, const Shape& x_shape,
                 int64_t axis, IndexCheck check) {
  MOEGRAD_CHECK(index.dtype() == DType::i64, op, ": index must be int64, got ", index.dtype());
  if (index.numel() == 0 || check == IndexCheck::trusted) return;
  // A broadcast (stride-0) dim repeats the same indices: check one copy of them.
  Tensor distinct = index;
  for (int64_t d = 0; d < index.dim(); ++d)
    if (index.strides()[d] == 0) distinct = narrow(distinct, d, 0, 1);
  int64_t lo = amin(distinct).item<int64_t>(), hi = amax(distinct).item<int64_t>();
  MOEGRAD_CHECK(lo >= 0 && hi < bound, op, ": index ", lo < 0 ? lo : hi,
                " is out of range [0, ", bound, ") for dim ", axis, " of shape ", x_shape);
}

// torch's rule for gather/scatter: index may be smaller than x on every other dim.
void check_index_shape(const Tensor& index, const Tensor& x, int64_t axis, const char* op,
                       const char* other) {
  MOEGRAD_CHECK(index.dim() == x.dim(), op, ": index has shape ", index.shape(), " but ", other,
                " has shape ", x.shape(), "; they need the same number of dims");
  for (int64_t d = 0; d < x.dim(); ++d)
    MOEGRAD_CHECK(d == axis || index.shape()[d] <= x.shape()[d], op, ": index shape ",
                  index.shape(), " exceeds ", other, " shape ", x.shape(), " at dim ", d);
}
}  // namespace

Tensor gather(const Tensor& x, int64_t axis, const Tensor& index, IndexCheck check) {
  check_same_device("gather", {&x, &index});
  int64_t a = normalize_dim(axis, x.dim(), "gather");
  check_index_shape(index, x, a, "gather", "input");
  check_index(index, x.shape()[a], "gather", x.shape(), a, check);
  Tensor out = empty(index.shape(), x.dtype(), x.backend());
  x.backend().gather(x, a, index, out);
  return out;
}

void scatter_add_(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src, IndexCheck check) {
  check_same_device("scatter_add", {&x, &index, &src});
  int64_t a = normalize_dim(axis, x.dim(), "scatter_add");
  MOEGRAD_CHECK(src.dtype() == x.dtype(), "scatter_add: src is ", src.dtype(), ", input is ",
                x.dtype());
  MOEGRAD_CHECK(index.shape() == src.shape(), "scatter_add: index shape ", index.shape(),
                " differs from src shape ", src.shape());
  check_index_shape(index, x, a, "scatter_add", "input");
  check_index(index, x.shape()[a], "scatter_add", x.shape(), a, check);
  x.backend().scatter_add(x, a, index, src);
}

Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src, IndexCheck check) {
  Tensor out = clone(x);
  scatter_add_(out, axis, index, src, check);
  return out;
}

Tensor index_select_as_gather_index(const Tensor& index, const Shape& out_shape, int64_t axis) {
  Shape s(out_shape.size(), 1);
  s[axis] = index.numel();
  return expand(reshape(index, s), out_shape);
}

Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index, IndexCheck check) {
  check_same_device("index_select", {&x, &index});
  int64_t a = normalize_dim(axis, x.dim(), "index_select");
  MOEGRAD_CHECK(index.dim() == 1, "index_select: index must be 1-d, got shape ", index.shape());
  check_index(index, x.shape()[a], "index_select", x.shape(), a, check);
  Shape out_shape = x.shape();
  out_shape[a] = index.numel();
  Tensor out = empty(out_shape, x.dtype(), x.backend());
  x.backend().gather(x, a, index_select_as_gather_index(index, out_shape, a), out);
  return out;
}

Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype, IndexCheck check) {
  MOEGRAD_CHECK(num_classes > 0, "one_hot: num_classes must be positive, got ", num_classes);
  checked_mul(index.numel(), num_classes, "one_hot: the element count of the result");
  check_index(index, num_classes, "one_hot", index.shape(), index.dim(), check);
  Tensor classes = arange(0.0, static_cast<double>(num_classes), 1.0, DType::i64, index.backend());
  return to(binary(BinaryOp::eq, unsqueeze(index, -1), classes), dtype);
}

}  // namespace moegrad::core

namespace moegrad::core {

// Built from cumsum and scatter_add, so every backend has it: element i goes to slot
// (number of true elements before i); false elements add 0 to a spare last slot or to a
// slot a true element fills.
Tensor flat_nonzero(const Tensor& mask) {
  MOEGRAD_CHECK(mask.dtype() == DType::b8, "flat_nonzero: expected a bool mask, got ", mask.dtype());
  Tensor m = to(reshape(mask, {mask.numel()}), DType::i64);
  const int64_t count = sum(m).item<int64_t>();
  Tensor pos = cumsum(m, 0, /*exclusive=*/true);
  Tensor ids = binary(BinaryOp::mul, arange(0.0, static_cast<double>(mask.numel()), 1.0, DType::i64,
                                            mask.backend()),
                      m);
  Tensor out = zeros({count + 1}, DType::i64, mask.backend());
  scatter_add_(out, 0, pos, ids, IndexCheck::trusted);  // positions < count + 1 by construction
  return narrow(out, 0, 0, count);
}

}  // namespace moegrad::core
