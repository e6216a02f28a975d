#include "moegrad/autograd/ops/linalg.h"

#include "moegrad/autograd/function.h"
#include "moegrad/autograd/ops/views.h"
#include "moegrad/core/core.h"

namespace moegrad {

namespace {

// Both operands at least 2-d; batch broadcasting is undone by the engine's sum_to.
struct MatmulOp {
  Tensor forward(OpContext& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_all(a, b);
    return core::matmul(a, b);
  }
  // Transposed views go to gemm as transposes: no copies.
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& a = ctx.saved(0);
    const Tensor& b = ctx.saved(1);
    return {ctx.needs_input_grad(0) ? core::matmul(g, core::transpose(b, -1, -2)) : Tensor(),
            ctx.needs_input_grad(1) ? core::matmul(core::transpose(a, -1, -2), g) : Tensor()};
  }
};

// x (rows, in), weight (out, in), bias (out) or undefined: the bias rides in the gemm
// (core::linear).
struct LinearOp {
  Tensor forward(OpContext& ctx, const Tensor& x, const Tensor& weight, const Tensor& bias) {
    ctx.save_all(x, weight);
    return core::linear(x, weight, bias);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& x = ctx.saved(0);
    const Tensor& w = ctx.saved(1);
    return {ctx.needs_input_grad(0) ? core::matmul(g, w) : Tensor(),
            ctx.needs_input_grad(1) ? core::matmul(core::transpose(g, 0, 1), x) : Tensor(),
            ctx.needs_input_grad(2) ? core::sum(g, {0}, /*keepdim=*/false) : Tensor()};
  }
};

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  MOEGRAD_CHECK(x.dim() >= 1 && weight.dim() == 2 && x.size(-1) == weight.size(1),
                "linear: input of shape ", x.shape(), " does not end in in_features of weight ",
                weight.shape());
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  out_shape.push_back(weight.size(0));
  Tensor rows = reshape(x, {-1, x.size(-1)});
  return reshape(apply<LinearOp>(rows, weight, bias), out_shape);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  MOEGRAD_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got ",
                a.shape(), " and ", b.shape());
  // A batch of rows times one matrix (every Linear) is one gemm over all rows: its
  // backward is then two gemms, with no batched products to sum afterwards.
  if (a.dim() > 2 && b.dim() == 2) {
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    out_shape.push_back(b.size(1));
    return reshape(apply<MatmulOp>(reshape(a, {-1, a.size(-1)}), b), out_shape);
  }
  // Promote 1-d operands, then drop the added dims: both of them for 1-d x 1-d (a 0-d dot).
  const bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
  Tensor out = apply<MatmulOp>(a_vec ? unsqueeze(a, 0) : a, b_vec ? unsqueeze(b, 1) : b);
  if (a_vec) out = squeeze(out, -2);
  if (b_vec) out = squeeze(out, -1);
  return out;
}

}  // namespace moegrad
