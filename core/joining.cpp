#include "moegrad/core/joining.h"

#include "moegrad/core/backend.h"
#include "moegrad/core/checked_math.h"
#include "moegrad/core/creation.h"
#include "moegrad/core/views.h"

namespace moegrad::core {

Tensor cat(const TensorList& xs, int64_t axis) {
  MOEGRAD_CHECK(!xs.empty(), "cat: expected at least one tensor");
  check_same_device("cat", xs);
  const Tensor& first = xs[0];
  int64_t a = normalize_dim(axis, first.dim(), "cat");
  Shape shape = first.shape();
  shape[a] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    MOEGRAD_CHECK(x.dtype() == first.dtype(), "cat: tensor ", i, " is ", x.dtype(),
                  ", tensor 0 is ", first.dtype());
    bool same = x.dim() == first.dim();
    for (int64_t d = 0; same && d < x.dim(); ++d) same = d == a || x.shape()[d] == first.shape()[d];
    MOEGRAD_CHECK(same, "cat: tensor ", i, " has shape ", x.shape(), ", tensor 0 has shape ",
                  first.shape(), "; they may differ only in dim ", axis);
    shape[a] = checked_add(shape[a], x.shape()[a], "cat: the joined size");
  }
  Tensor out = empty(shape, first.dtype(), first.backend());
  int64_t at = 0;
  for (const Tensor& x : xs) {
    first.backend().copy(x, narrow(out, a, at, x.shape()[a]));
    at += x.shape()[a];
  }
  return out;
}

Tensor stack(const TensorList& xs, int64_t axis) {
  MOEGRAD_CHECK(!xs.empty(), "stack: expected at least one tensor");
  int64_t a = normalize_dim(axis, xs[0].dim() + 1, "stack");
  TensorList parts;
  for (size_t i = 0; i < xs.size(); ++i) {
    MOEGRAD_CHECK(xs[i].shape() == xs[0].shape(), "stack: tensor ", i, " has shape ",
                  xs[i].shape(), ", tensor 0 has shape ", xs[0].shape());
    parts.push_back(unsqueeze(xs[i], a));
  }
  return cat(parts, a);
}

TensorList split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis) {
  int64_t a = normalize_dim(axis, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    MOEGRAD_CHECK(s >= 0, "split: negative size in ", sizes);
    total = checked_add(total, s, "split: the sum of the sizes");
  }
  MOEGRAD_CHECK(total == x.shape()[a], "split: sizes ", sizes, " sum to ", total, ", dim ", axis,
                " of shape ", x.shape(), " has ", x.shape()[a]);
  TensorList out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(x, a, at, s));
    at += s;
  }
  return out;
}

TensorList split(const Tensor& x, int64_t size, int64_t axis) {
  int64_t a = normalize_dim(axis, x.dim(), "split");
  MOEGRAD_CHECK(size > 0, "split: size must be positive, got ", size);
  std::vector<int64_t> sizes;
  for (int64_t at = 0; at < x.shape()[a]; at += sizes.back()) sizes.push_back(std::min(size, x.shape()[a] - at));
  if (sizes.empty()) sizes.push_back(0);
  return split(x, sizes, a);
}

TensorList chunk(const Tensor& x, int64_t n, int64_t axis) {
  MOEGRAD_CHECK(n > 0, "chunk: number of chunks must be positive, got ", n);
  int64_t a = normalize_dim(axis, x.dim(), "chunk");
  const int64_t len = x.shape()[a];
  int64_t size = len == 0 ? 0 : (len - 1) / n + 1;  // ceil(len / n) without overflow
  return split(x, std::max<int64_t>(size, 1), a);
}

}  // namespace moegrad::core
