// Differentiable unary ops: the derivative sits beside each forward.
#include "moegrad/autograd/function.h"
#include "moegrad/autograd/ops/elementwise.h"
#include "moegrad/core/core.h"

namespace moegrad {

namespace {

struct NegOp {
  Tensor forward(OpContext&, const Tensor& x) { return core::unary(UnaryOp::neg, x); }
  TensorList backward(const OpContext&, const Tensor& g) { return {-g}; }
};

struct ExpOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    Tensor y = core::unary(UnaryOp::exp, x);
    ctx.save(y);
    return y;
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) { return {g * ctx.saved(0)}; }
};

struct LogOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    ctx.save(x);
    return core::unary(UnaryOp::log, x);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) { return {g / ctx.saved(0)}; }
};

struct SqrtOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    Tensor y = core::unary(UnaryOp::sqrt, x);
    ctx.save(y);
    return y;
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) { return {g / (2.0 * ctx.saved(0))}; }
};

struct AbsOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    ctx.save(x);
    return core::unary(UnaryOp::abs, x);
  }
  // sign(0) = 0: the subgradient torch uses.
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {g * core::unary(UnaryOp::sign, ctx.saved(0))};
  }
};

struct ReluOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    Tensor y = core::unary(UnaryOp::relu, x);
    ctx.save(y);
    return y;
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {where(ctx.saved(0) > 0.0, g, 0.0)};
  }
};

struct GeluOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    ctx.save(x);
    return core::unary(UnaryOp::gelu, x);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {g * core::unary(UnaryOp::gelu_grad, ctx.saved(0))};
  }
};

struct SigmoidOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    Tensor y = core::unary(UnaryOp::sigmoid, x);
    ctx.save(y);
    return y;
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& y = ctx.saved(0);
    return {g * y * (1.0 - y)};
  }
};

struct TanhOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    Tensor y = core::unary(UnaryOp::tanh, x);
    ctx.save(y);  // 1 - y^2 avoids a second tanh and stays exact where tanh saturates
    return y;
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& y = ctx.saved(0);
    return {g * (1.0 - y * y)};
  }
};

struct PowScalarOp {
  double p = 0;
  Tensor forward(OpContext& ctx, const Tensor& x, double exponent) {
    p = exponent;
    ctx.save(x);
    return core::unary(UnaryOp::pow_scalar, x, {exponent});
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    if (p == 0.0) return {zeros_like(g)};
    return {g * p * core::unary(UnaryOp::pow_scalar, ctx.saved(0), {p - 1.0})};
  }
};

struct ClampOp {
  double lo = 0, hi = 0;
  Tensor forward(OpContext& ctx, const Tensor& x, double min, double max) {
    lo = min;
    hi = max;
    ctx.save(x);
    return core::clamp(x, min, max);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& x = ctx.saved(0);
    return {where(logical_and(x >= lo, x <= hi), g, 0.0)};
  }
};

}  // namespace

Tensor neg(const Tensor& x) { return apply<NegOp>(x); }
Tensor exp(const Tensor& x) { return apply<ExpOp>(x); }
Tensor log(const Tensor& x) { return apply<LogOp>(x); }
Tensor sqrt(const Tensor& x) { return apply<SqrtOp>(x); }
Tensor abs(const Tensor& x) { return apply<AbsOp>(x); }
Tensor relu(const Tensor& x) { return apply<ReluOp>(x); }
Tensor gelu(const Tensor& x) { return apply<GeluOp>(x); }
Tensor sigmoid(const Tensor& x) { return apply<SigmoidOp>(x); }
Tensor tanh(const Tensor& x) { return apply<TanhOp>(x); }
Tensor pow(const Tensor& x, double exponent) { return apply<PowScalarOp>(x, exponent); }
Tensor clamp(const Tensor& x, double min, double max) { return apply<ClampOp>(x, min, max); }
Tensor operator-(const Tensor& x) { return neg(x); }

}  // namespace moegrad
