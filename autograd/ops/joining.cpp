#include "moegrad/autograd/ops/joining.h"

#include "moegrad/autograd/function.h"
#include "moegrad/autograd/ops/views.h"
#include "moegrad/core/core.h"

namespace moegrad {

namespace {

struct CatOp {
  std::vector<int64_t> sizes;
  int64_t axis = 0;
  Tensor forward(OpContext&, const TensorList& xs, int64_t ax) {
    Tensor y = core::cat(xs, ax);
    axis = normalize_dim(ax, y.dim(), "cat");
    for (const Tensor& x : xs) sizes.push_back(x.shape()[axis]);
    return y;
  }
  TensorList backward(const OpContext&, const Tensor& g) { return core::split(g, sizes, axis); }
};

// One node for all pieces: backward joins their gradients with one cat (the engine hands
// zeros for unused pieces) instead of a zero-filled input-sized tensor per piece.
struct SplitOp {
  int64_t axis = 0;
  TensorList forward(OpContext&, const Tensor& x, const std::vector<int64_t>& sizes, int64_t ax) {
    axis = ax;
    return core::split(x, sizes, ax);
  }
  TensorList backward(const OpContext&, const TensorList& grads) { return {core::cat(grads, axis)}; }
};

}  // namespace

Tensor cat(const TensorList& xs, int64_t axis) { return apply<CatOp>(xs, axis); }

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
  core::split(x, sizes, axis);  // validates, naming split
  return apply<SplitOp>(x, sizes, normalize_dim(axis, x.dim(), "split"));
}

TensorList split(const Tensor& x, int64_t size, int64_t axis) {
  std::vector<int64_t> sizes;
  for (const Tensor& piece : core::split(x, size, axis))
    sizes.push_back(piece.shape()[normalize_dim(axis, x.dim(), "split")]);
  return split(x, sizes, axis);
}

TensorList chunk(const Tensor& x, int64_t n, int64_t axis) {
  std::vector<int64_t> sizes;
  for (const Tensor& piece : core::chunk(x, n, axis))
    sizes.push_back(piece.shape()[normalize_dim(axis, x.dim(), "chunk")]);
  return split(x, sizes, axis);
}

}  // namespace moegrad
