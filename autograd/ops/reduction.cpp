#include "moegrad/autograd/ops/reduction.h"

#include "moegrad/autograd/function.h"
#include "moegrad/autograd/ops/elementwise.h"
#include "moegrad/core/core.h"

namespace moegrad {

namespace {

// A gradient of a reduction, given with or without the reduced axes, as x's rank with
// those axes of size 1 (ready to broadcast against x).
Tensor unsqueeze_reduced(const Tensor& g, const Shape& in_shape, const Axes& axes) {
  return core::reshape(g, reduced_shape(in_shape, axes, /*keepdim=*/true));
}

struct SumOp {
  Shape in_shape;
  Axes axes;
  Tensor forward(OpContext&, const Tensor& x, const Axes& ax, bool keepdim) {
    in_shape = x.shape();
    axes = normalize_axes(ax, x.dim(), "sum");
    return core::sum(x, axes, keepdim);
  }
  TensorList backward(const OpContext&, const Tensor& g) {
    return {core::expand(unsqueeze_reduced(g, in_shape, axes), in_shape)};
  }
};

// amax / amin: ties split the gradient evenly.
struct ExtremumOverAxesOp {
  Axes axes;
  Tensor forward(OpContext& ctx, const Tensor& x, const Axes& ax, bool keepdim, bool is_max) {
    axes = normalize_axes(ax, x.dim(), is_max ? "amax" : "amin");
    Tensor y = is_max ? core::amax(x, axes, true) : core::amin(x, axes, true);
    ctx.save_all(x, y);
    return keepdim ? y : core::reshape(y, reduced_shape(x.shape(), axes, false));
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& x = ctx.saved(0);
    Tensor hit = core::to(eq(x, ctx.saved(1)), x.dtype());
    Tensor count = core::sum(hit, axes, true);
    return {unsqueeze_reduced(g, x.shape(), axes) * hit / count};
  }
};

// Gradient of values picked by index along an axis: scattered back to the picked places,
// which the forward's own argmax or topk found (so in range).
Tensor scatter_to(const Tensor& g, const Shape& in_shape, int64_t axis, const Tensor& index) {
  return core::scatter_add(zeros(in_shape, g.dtype(), g.backend()), axis, index, g, IndexCheck::trusted);
}

struct MaxAlongOp {
  Shape in_shape;
  int64_t axis = 0;
  bool keepdim = false;
  TensorList forward(OpContext& ctx, const Tensor& x, int64_t ax, bool kd, bool is_max) {
    in_shape = x.shape();
    axis = normalize_dim(ax, x.dim(), is_max ? "max" : "min");
    keepdim = kd;
    Tensor idx = is_max ? core::argmax(x, axis, true) : core::argmin(x, axis, true);
    Tensor values = core::gather(x, axis, idx, IndexCheck::trusted);
    ctx.save(idx);
    if (!kd) return {core::squeeze(values, axis), core::squeeze(idx, axis)};
    return {values, idx};
  }
  TensorList backward(const OpContext& ctx, const TensorList& g) {
    const Tensor& idx = ctx.saved(0);
    return {scatter_to(core::reshape(g[0], idx.shape()), in_shape, axis, idx)};
  }
};

struct LogsumexpOp {
  Axes axes;
  Tensor forward(OpContext& ctx, const Tensor& x, const Axes& ax, bool keepdim) {
    axes = normalize_axes(ax, x.dim(), "logsumexp");
    Tensor y = core::logsumexp(x, axes, true);
    ctx.save_all(x, y);
    return keepdim ? y : core::reshape(y, reduced_shape(x.shape(), axes, false));
  }
  // d lse / dx = softmax(x) = exp(x - lse), finite for any finite lse.
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& x = ctx.saved(0);
    return {unsqueeze_reduced(g, x.shape(), axes) * core::unary(UnaryOp::exp, x - ctx.saved(1))};
  }
};

struct NormOp {
  Axes axes;
  Tensor forward(OpContext& ctx, const Tensor& x, const Axes& ax, bool keepdim) {
    axes = normalize_axes(ax, x.dim(), "norm");
    Tensor y = core::unary(UnaryOp::sqrt, core::sum(core::binary(BinaryOp::mul, x, x), axes, true));
    ctx.save_all(x, y);
    return keepdim ? y : core::reshape(y, reduced_shape(x.shape(), axes, false));
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& x = ctx.saved(0);
    const Tensor& y = ctx.saved(1);
    Tensor zero = core::scalar_like(0.0, y);
    Tensor safe = core::where(eq(y, zero), core::scalar_like(1.0, y), y);
    return {core::where(eq(y, zero), zero, unsqueeze_reduced(g, x.shape(), axes) * x / safe)};
  }
};

struct SoftmaxOp {
  int64_t axis = 0;
  Tensor forward(OpContext& ctx, const Tensor& x, int64_t ax) {
    axis = normalize_dim(ax, x.dim(), "softmax");
    Tensor y = core::softmax(x, axis);
    ctx.save(y);
    return y;
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& y = ctx.saved(0);
    return {y * (g - core::sum(g * y, {axis}, true))};
  }
};

struct LogSoftmaxOp {
  int64_t axis = 0;
  Tensor forward(OpContext& ctx, const Tensor& x, int64_t ax) {
    axis = normalize_dim(ax, x.dim(), "log_softmax");
    Tensor y = core::log_softmax(x, axis);
    ctx.save(y);
    return y;
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {g - core::unary(UnaryOp::exp, ctx.saved(0)) * core::sum(g, {axis}, true)};
  }
};

struct CumsumOp {
  int64_t axis = 0;
  bool exclusive = false;
  Tensor forward(OpContext&, const Tensor& x, int64_t ax, bool excl) {
    axis = normalize_dim(ax, x.dim(), "cumsum");
    exclusive = excl;
    return core::cumsum(x, axis, excl);
  }
  // x_j feeds y_i for i >= j (inclusive) or i > j (exclusive): a reversed cumsum of g,
  // written as the total minus the forward cumsum of the other kind.
  TensorList backward(const OpContext&, const Tensor& g) {
    return {core::sum(g, {axis}, true) - core::cumsum(g, axis, !exclusive)};
  }
};

struct TopkOp {
  Shape in_shape;
  int64_t axis = 0;
  TensorList forward(OpContext& ctx, const Tensor& x, int64_t k, int64_t ax) {
    in_shape = x.shape();
    axis = normalize_dim(ax, x.dim(), "topk");
    auto [values, indices] = core::topk(x, k, axis);
    ctx.save(indices);
    return {values, indices};
  }
  TensorList backward(const OpContext& ctx, const TensorList& g) {
    return {scatter_to(g[0], in_shape, axis, ctx.saved(0))};
  }
};

}  // namespace

Tensor sum(const Tensor& x, const Axes& axes, bool keepdim) {
  return apply<SumOp>(x, axes, keepdim);
}
Tensor mean(const Tensor& x, const Axes& axes, bool keepdim) {
  MOEGRAD_CHECK(is_floating(x.dtype()), "mean: expected a float tensor, got ", x.dtype());
  int64_t count = 1;
  for (int64_t a : normalize_axes(axes, x.dim(), "mean")) count *= x.shape()[a];
  return sum(x, axes, keepdim) / static_cast<double>(count);
}
Tensor amax(const Tensor& x, const Axes& axes, bool keepdim) {
  return apply<ExtremumOverAxesOp>(x, axes, keepdim, true);
}
Tensor amin(const Tensor& x, const Axes& axes, bool keepdim) {
  return apply<ExtremumOverAxesOp>(x, axes, keepdim, false);
}
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t axis, bool keepdim) {
  TensorList r = apply<MaxAlongOp>(x, axis, keepdim, true);
  return {r[0], r[1]};
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t axis, bool keepdim) {
  TensorList r = apply<MaxAlongOp>(x, axis, keepdim, false);
  return {r[0], r[1]};
}
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) { return core::argmax(x, axis, keepdim); }
Tensor argmin(const Tensor& x, int64_t axis, bool keepdim) { return core::argmin(x, axis, keepdim); }
Tensor logsumexp(const Tensor& x, const Axes& axes, bool keepdim) {
  return apply<LogsumexpOp>(x, axes, keepdim);
}
Tensor norm(const Tensor& x, const Axes& axes, bool keepdim) {
  return apply<NormOp>(x, axes, keepdim);
}
Tensor softmax(const Tensor& x, int64_t axis) { return apply<SoftmaxOp>(x, axis); }
Tensor log_softmax(const Tensor& x, int64_t axis) { return apply<LogSoftmaxOp>(x, axis); }
Tensor cumsum(const Tensor& x, int64_t axis, bool exclusive) {
  return apply<CumsumOp>(x, axis, exclusive);
}
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t axis) {
  TensorList r = apply<TopkOp>(x, k, axis);
  return {r[0], r[1]};
}

}  // namespace moegrad
