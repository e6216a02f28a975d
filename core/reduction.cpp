#include "moegrad/core/reduction.h"

#include "moegrad/core/backend.h"
#include "moegrad/core/creation.h"
#include "moegrad/core/elementwise.h"
#include "moegrad/core/views.h"

namespace moegrad::core {

namespace {
Tensor reduce(ReduceOp op, const Tensor& x, const Axes& axes_in, bool keepdim, DType out_dtype,
              const char* name) {
  Axes axes = normalize_axes(axes_in, x.dim(), name);
  for (int64_t a : axes)
    MOEGRAD_CHECK(x.shape()[a] > 0 || op == ReduceOp::sum, name,
                  ": cannot reduce over empty dim ", a, " of shape ", x.shape());
  Tensor out = empty(reduced_shape(x.shape(), axes, /*keepdim=*/true), out_dtype, x.backend());
  x.backend().reduce(op, x, axes, out);
  return keepdim ? out : view(out, reduced_shape(x.shape(), axes, false));
}
}  // namespace

Tensor sum(const Tensor& x, const Axes& axes, bool keepdim) {
  DType t = is_floating(x.dtype()) ? x.dtype() : DType::i64;
  return reduce(ReduceOp::sum, x, axes, keepdim, t, "sum");
}

Tensor mean(const Tensor& x, const Axes& axes, bool keepdim) {
  MOEGRAD_CHECK(is_floating(x.dtype()), "mean: expected a float tensor, got ", x.dtype());
  Axes ax = normalize_axes(axes, x.dim(), "mean");
  int64_t count = 1;
  // Cannot overflow: a subset of a shape whose span (zeros as ones) fits in int64 (core/shape.cpp).
  for (int64_t a : ax) count *= x.shape()[a];
  Tensor s = sum(x, ax, keepdim);
  return binary(BinaryOp::div, s, scalar_like(static_cast<double>(count), s));
}

Tensor amax(const Tensor& x, const Axes& axes, bool keepdim) {
  MOEGRAD_CHECK(x.dtype() != DType::b8, "amax: not defined for bool tensors");
  return reduce(ReduceOp::max, x, axes, keepdim, x.dtype(), "amax");
}

Tensor amin(const Tensor& x, const Axes& axes, bool keepdim) {
  MOEGRAD_CHECK(x.dtype() != DType::b8, "amin: not defined for bool tensors");
  return reduce(ReduceOp::min, x, axes, keepdim, x.dtype(), "amin");
}

Tensor logsumexp(const Tensor& x, const Axes& axes, bool keepdim) {
  MOEGRAD_CHECK(is_floating(x.dtype()), "logsumexp: expected a float tensor, got ", x.dtype());
  return reduce(ReduceOp::logsumexp, x, axes, keepdim, x.dtype(), "logsumexp");
}

Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) {
  MOEGRAD_CHECK(x.dtype() != DType::b8, "argmax: not defined for bool tensors");
  return reduce(ReduceOp::argmax, x, {normalize_dim(axis, x.dim(), "argmax")}, keepdim, DType::i64,
                "argmax");
}

Tensor argmin(const Tensor& x, int64_t axis, bool keepdim) {
  MOEGRAD_CHECK(x.dtype() != DType::b8, "argmin: not defined for bool tensors");
  return reduce(ReduceOp::argmin, x, {normalize_dim(axis, x.dim(), "argmin")}, keepdim, DType::i64,
                "argmin");
}

namespace {
Tensor softmax_impl(const Tensor& x, int64_t axis, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  MOEGRAD_CHECK(is_floating(x.dtype()), name, ": expected a float tensor, got ", x.dtype());
  int64_t a = normalize_dim(axis, x.dim(), name);
  Tensor out = empty(x.shape(), x.dtype(), x.backend());
  x.backend().softmax(x, a, log, out);
  return out;
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) { return softmax_impl(x, axis, false); }
Tensor log_softmax(const Tensor& x, int64_t axis) { return softmax_impl(x, axis, true); }

Tensor cumsum(const Tensor& x, int64_t axis, bool exclusive) {
  MOEGRAD_CHECK(x.dtype() != DType::b8, "cumsum: convert bool to int64 first");
  int64_t a = normalize_dim(axis, x.dim(), "cumsum");
  Tensor out = empty(x.shape(), x.dtype(), x.backend());
  x.backend().cumsum(x, a, exclusive, out);
  return out;
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t axis) {
  MOEGRAD_CHECK(x.dtype() != DType::b8, "topk: not defined for bool tensors");
  int64_t a = normalize_dim(axis, x.dim(), "topk");
  MOEGRAD_CHECK(k >= 0 && k <= x.shape()[a], "topk: k = ", k, " is outside [0, ", x.shape()[a],
                "] for dim ", axis, " of shape ", x.shape());
  Shape shape = x.shape();
  shape[a] = k;
  Tensor values = empty(shape, x.dtype(), x.backend());
  Tensor indices = empty(shape, DType::i64, x.backend());
  x.backend().topk(x, k, a, values, indices);
  return {values, indices};
}

}  // namespace moegrad::core
