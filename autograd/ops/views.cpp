#include "moegrad/autograd/ops/views.h"

#include "moegrad/autograd/function.h"
#include "moegrad/core/core.h"

namespace moegrad {

namespace {

// reshape, view, squeeze, unsqueeze, flatten: the gradient is reshaped back.
struct ReshapeOp {
  Shape in_shape;
  Tensor forward(OpContext&, const Tensor& x, const Shape& shape, bool copy_allowed) {
    in_shape = x.shape();
    return copy_allowed ? core::reshape(x, shape) : core::view(x, shape);
  }
  TensorList backward(const OpContext&, const Tensor& g) { return {core::reshape(g, in_shape)}; }
};

struct PermuteOp {
  Axes inverse;
  Tensor forward(OpContext&, const Tensor& x, const Axes& dims) {
    Tensor y = core::permute(x, dims);
    inverse.assign(dims.size(), 0);
    for (size_t i = 0; i < dims.size(); ++i)
      inverse[normalize_dim(dims[i], x.dim(), "permute")] = static_cast<int64_t>(i);
    return y;
  }
  TensorList backward(const OpContext&, const Tensor& g) { return {core::permute(g, inverse)}; }
};

// narrow and slice: the gradient is scattered into zeros at the viewed positions.
struct SliceOp {
  Shape in_shape;
  int64_t dim = 0, start = 0, end = 0, step = 1;
  Tensor forward(OpContext&, const Tensor& x, int64_t d, int64_t s, int64_t e, int64_t st) {
    in_shape = x.shape();
    dim = d;
    start = s;
    end = e;
    step = st;
    return core::slice(x, d, s, e, st);
  }
  TensorList backward(const OpContext&, const Tensor& g) {
    Tensor gx = zeros(in_shape, g.dtype(), g.backend());
    core::copy_(core::slice(gx, dim, start, end, step), g);
    return {gx};
  }
};

// The engine sums the gradient over the broadcast dims.
struct ExpandOp {
  Tensor forward(OpContext&, const Tensor& x, const Shape& shape) { return core::expand(x, shape); }
  TensorList backward(const OpContext&, const Tensor& g) { return {g}; }
};

struct CloneOp {
  Tensor forward(OpContext&, const Tensor& x, bool always) {
    return always ? core::clone(x) : core::contiguous(x);
  }
  TensorList backward(const OpContext&, const Tensor& g) { return {g}; }
};

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) { return apply<ReshapeOp>(x, shape, true); }
Tensor view(const Tensor& x, const Shape& shape) { return apply<ReshapeOp>(x, shape, false); }
Tensor squeeze(const Tensor& x, int64_t dim) {
  return apply<ReshapeOp>(x, core::squeeze(x, dim).shape(), false);
}
Tensor squeeze(const Tensor& x) { return apply<ReshapeOp>(x, core::squeeze(x).shape(), false); }
Tensor unsqueeze(const Tensor& x, int64_t dim) {
  return apply<ReshapeOp>(x, core::unsqueeze(x, dim).shape(), false);
}
Tensor flatten(const Tensor& x) { return reshape(x, {x.numel()}); }
Tensor permute(const Tensor& x, const Axes& dims) { return apply<PermuteOp>(x, dims); }
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  Axes dims(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) dims[i] = i;
  std::swap(dims[normalize_dim(dim0, x.dim(), "transpose")],
            dims[normalize_dim(dim1, x.dim(), "transpose")]);
  return permute(x, dims);
}
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  core::narrow(x, dim, start, length);  // validates, naming narrow
  int64_t d = normalize_dim(dim, x.dim(), "narrow");
  int64_t s = start < 0 ? start + x.shape()[d] : start;
  return apply<SliceOp>(x, d, s, s + length, int64_t{1});
}
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  core::slice(x, dim, start, end, step);  // validates, naming slice
  return apply<SliceOp>(x, normalize_dim(dim, x.dim(), "slice"), start, end, step);
}
Tensor expand(const Tensor& x, const Shape& shape) { return apply<ExpandOp>(x, shape); }
Tensor contiguous(const Tensor& x) { return apply<CloneOp>(x, false); }
Tensor clone(const Tensor& x) { return apply<CloneOp>(x, true); }

}  // namespace moegrad
