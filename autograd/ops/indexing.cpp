#include "moegrad/autograd/ops/indexing.h"

#include "moegrad/autograd/function.h"
#include "moegrad/core/core.h"

namespace moegrad {

namespace {

struct GatherOp {
  Shape in_shape;
  int64_t axis = 0;
  Tensor forward(OpContext& ctx, const Tensor& x, int64_t ax, const Tensor& index, IndexCheck check) {
    in_shape = x.shape();
    axis = normalize_dim(ax, x.dim(), "gather");
    ctx.save(index);
    return core::gather(x, axis, index, check);
  }
  // Repeated indices accumulate, which scatter_add does; the forward checked them.
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {core::scatter_add(zeros(in_shape, g.dtype(), g.backend()), axis, ctx.saved(0), g, IndexCheck::trusted),
            Tensor()};
  }
};

struct ScatterAddOp {
  int64_t axis = 0;
  Tensor forward(OpContext& ctx, const Tensor& x, int64_t ax, const Tensor& index,
                 const Tensor& src, IndexCheck check) {
    axis = normalize_dim(ax, x.dim(), "scatter_add");
    ctx.save(index);
    return core::scatter_add(x, axis, index, src, check);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {g, Tensor(),
            ctx.needs_input_grad(2) ? core::gather(g, axis, ctx.saved(0), IndexCheck::trusted) : Tensor()};
  }
};

struct IndexSelectOp {
  Shape in_shape;
  int64_t axis = 0;
  Tensor forward(OpContext& ctx, const Tensor& x, int64_t ax, const Tensor& index, IndexCheck check) {
    in_shape = x.shape();
    axis = normalize_dim(ax, x.dim(), "index_select");
    ctx.save(index);
    return core::index_select(x, axis, index, check);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    Tensor idx = core::index_select_as_gather_index(ctx.saved(0), g.shape(), axis);
    return {core::scatter_add(zeros(in_shape, g.dtype(), g.backend()), axis, idx, g, IndexCheck::trusted), Tensor()};
  }
};

}  // namespace

Tensor gather(const Tensor& x, int64_t axis, const Tensor& index, IndexCheck check) {
  return apply<GatherOp>(x, axis, index, check);
}
Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src, IndexCheck check) {
  return apply<ScatterAddOp>(x, axis, index, src, check);
}
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index, IndexCheck check) {
  return apply<IndexSelectOp>(x, axis, index, check);
}
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype, IndexCheck check) {
  return core::one_hot(index, num_classes, dtype, check);
}

}  // namespace moegrad
