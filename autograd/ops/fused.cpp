#include "moegrad/autograd/ops/fused.h"

#include "moegrad/autograd/function.h"
#include "moegrad/core/fused.h"

namespace moegrad {

namespace {

struct GegluOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    auto [out, cdf] = core::geglu(x);
    ctx.save_all(core::contiguous(x), cdf);  // Phi(gate) spares backward a second erf
    return out;
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {core::geglu_backward(ctx.saved(0), ctx.saved(1), Tensor(), g, false).first};
  }
};

// The scale rides in the kernels: no extra pass over (rows, h) forward or backward.
struct GegluMultBiasOp {
  Tensor forward(OpContext& ctx, const Tensor& x, const Tensor& mult_bias) {
    auto [out, cdf] = core::geglu(x, mult_bias);
    ctx.save_all(core::contiguous(x), cdf, mult_bias);
    return out;
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    auto [grad_x, grad_mb] =
        core::geglu_backward(ctx.saved(0), ctx.saved(1), ctx.saved(2), g, ctx.needs_input_grad(1));
    return {ctx.needs_input_grad(0) ? grad_x : Tensor(), grad_mb};
  }
};

struct RmsNormalizeOp {
  double eps = 0, scale = 1;
  Tensor forward(OpContext& ctx, const Tensor& x, double e, double s) {
    eps = e;
    scale = s;
    auto [out, inv] = core::rms_norm(x, e, s);
    ctx.save_all(core::contiguous(x), inv);
    return out;
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {core::rms_norm_backward(ctx.saved(0), ctx.saved(1), eps, scale, g)};
  }
};

}  // namespace

Tensor geglu(const Tensor& x, const Tensor& mult_bias) {
  return mult_bias.defined() ? apply<GegluMultBiasOp>(x, mult_bias) : apply<GegluOp>(x);
}
Tensor rms_normalize(const Tensor& x, double eps, double scale) { return apply<RmsNormalizeOp>(x, eps, scale); }

}  // namespace moegrad
