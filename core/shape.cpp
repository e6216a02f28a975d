#include "moegrad/core/shape.h"

#include <algorithm>

#include "moegrad/core/error.h"

namespace moegrad {

namespace {
// The product of the sizes, zeros counted as ones (so that contiguous strides fit too), or
// an Error naming the shape when a size is negative or the product passes INT64_MAX.
int64_t checked_span(const Shape& shape, const char* op) {
  int64_t n = 1;
  for (int64_t s : shape) {
    MOEGRAD_CHECK(s >= 0, op, ": negative size in shape ", shape);
    MOEGRAD_CHECK(!__builtin_mul_overflow(n, std::max<int64_t>(s, 1), &n), op, ": shape ", shape,
                  " has more elements than a 64-bit count holds");
  }
  return n;
}
}  // namespace

int64_t shape_numel(const Shape& shape, const char* op) {
  checked_span(shape, op);
  int64_t n = 1;
  for (int64_t s : shape) n *= s;  // cannot overflow: bounded by the span
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  checked_span(shape, "contiguous_strides");
  Shape strides(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = acc;
    acc *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  MOEGRAD_CHECK(d >= 0 && d < ndim, op, ": dim ", dim, " is out of range for a tensor with ", ndim,
                " dims");
  return d;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    MOEGRAD_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
                  " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Axes normalize_axes(const Axes& axes, int64_t ndim, const char* op) {
  Axes out;
  if (axes.empty()) {
    for (int64_t i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  for (int64_t a : axes) out.push_back(normalize_dim(a, ndim, op));
  std::sort(out.begin(), out.end());
  MOEGRAD_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op,
                ": an axis is repeated in ", axes);
  return out;
}

Shape reduced_shape(const Shape& shape, const Axes& axes, bool keepdim) {
  Shape out;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced) out.push_back(shape[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

}  // namespace moegrad
