// Differentiable binary ops. Backward returns gradients at the broadcast shape; the
// engine sums them down to each input's shape.
#include "moegrad/autograd/function.h"
#include "moegrad/autograd/ops/elementwise.h"
#include "moegrad/core/core.h"

namespace moegrad {

namespace {

struct AddOp {
  Tensor forward(OpContext&, const Tensor& a, const Tensor& b) {
    return core::binary(BinaryOp::add, a, b);
  }
  TensorList backward(const OpContext&, const Tensor& g) { return {g, g}; }
};

struct SubOp {
  Tensor forward(OpContext&, const Tensor& a, const Tensor& b) {
    return core::binary(BinaryOp::sub, a, b);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {g, ctx.needs_input_grad(1) ? -g : Tensor()};
  }
};

struct MulOp {
  Tensor forward(OpContext& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_all(a, b);
    return core::binary(BinaryOp::mul, a, b);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {ctx.needs_input_grad(0) ? g * ctx.saved(1) : Tensor(),
            ctx.needs_input_grad(1) ? g * ctx.saved(0) : Tensor()};
  }
};

struct DivOp {
  Tensor forward(OpContext& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_all(a, b);
    return core::binary(BinaryOp::div, a, b);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& a = ctx.saved(0);
    const Tensor& b = ctx.saved(1);
    Tensor ga = g / b;
    return {ga, ctx.needs_input_grad(1) ? -ga * a / b : Tensor()};
  }
};

struct PowOp {
  Tensor forward(OpContext& ctx, const Tensor& a, const Tensor& b) {
    Tensor y = core::binary(BinaryOp::pow, a, b);
    ctx.save_all(a, b, y);
    return y;
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& a = ctx.saved(0);
    const Tensor& b = ctx.saved(1);
    const Tensor& y = ctx.saved(2);
    Tensor ga, gb;
    if (ctx.needs_input_grad(0)) ga = g * b * pow(a, b - 1.0);
    // torch's convention: 0 ** b with b >= 0 has no gradient in b (log 0 would give NaN).
    if (ctx.needs_input_grad(1))
      gb = core::where(logical_and(eq(a, core::scalar_like(0.0, a)), b >= 0.0),
                       core::scalar_like(0.0, g), g * y * log(a));
    return {ga, gb};
  }
};

// maximum (is_max) or minimum; ties split the gradient in halves.
struct ExtremumOp {
  bool is_max = true;
  Tensor forward(OpContext& ctx, const Tensor& a, const Tensor& b, bool max) {
    is_max = max;
    ctx.save_all(a, b);
    return core::binary(max ? BinaryOp::maximum : BinaryOp::minimum, a, b);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& a = ctx.saved(0);
    const Tensor& b = ctx.saved(1);
    Tensor a_wins = is_max ? a > b : a < b;
    Tensor tie = eq(a, b);
    Tensor half = g * 0.5;
    Tensor zero = core::scalar_like(0.0, g);
    return {core::where(a_wins, g, core::where(tie, half, zero)),
            core::where(a_wins, zero, core::where(tie, half, g))};
  }
};

struct WhereOp {
  Tensor forward(OpContext& ctx, const Tensor& cond, const Tensor& a, const Tensor& b) {
    ctx.save(cond);
    return core::where(cond, a, b);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    const Tensor& cond = ctx.saved(0);
    Tensor zero = core::scalar_like(0.0, g);
    return {Tensor(), ctx.needs_input_grad(1) ? core::where(cond, g, zero) : Tensor(),
            ctx.needs_input_grad(2) ? core::where(cond, zero, g) : Tensor()};
  }
};

struct ToOp {
  DType from = DType::f32;
  Tensor forward(OpContext&, const Tensor& x, DType dtype) {
    from = x.dtype();
    return core::to(x, dtype);
  }
  TensorList backward(const OpContext&, const Tensor& g) { return {core::to(g, from)}; }
};

// Crossing devices: the gradient goes back to where the input was.
struct ToDeviceOp {
  Device from;
  Tensor forward(OpContext&, const Tensor& x, const Device& device) {
    from = x.device();
    return core::to(x, device);
  }
  TensorList backward(const OpContext&, const Tensor& g) { return {core::to(g, from)}; }
};

Tensor scalar(double v, const Tensor& like) { return core::scalar_like(v, like); }

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return apply<AddOp>(a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return apply<SubOp>(a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return apply<MulOp>(a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return apply<DivOp>(a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return apply<PowOp>(a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return apply<ExtremumOp>(a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return apply<ExtremumOp>(a, b, false); }
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  return apply<WhereOp>(cond, a, b);
}
Tensor where(const Tensor& cond, const Tensor& a, double b) { return where(cond, a, scalar(b, a)); }
Tensor to(const Tensor& x, DType dtype) {
  if (!is_floating(dtype) || !is_floating(x.dtype())) return core::to(x, dtype);
  return apply<ToOp>(x, dtype);
}

Tensor to(const Tensor& x, const Device& device) {
  if (x.device() == device) return x;
  if (!is_floating(x.dtype())) return core::to(x, device);
  return apply<ToDeviceOp>(x, device);
}

Tensor eq(const Tensor& a, const Tensor& b) { return core::binary(BinaryOp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return core::binary(BinaryOp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return core::binary(BinaryOp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return core::binary(BinaryOp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return core::binary(BinaryOp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return core::binary(BinaryOp::ge, a, b); }
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return core::binary(BinaryOp::logical_and, a, b);
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return core::binary(BinaryOp::logical_or, a, b);
}
Tensor logical_not(const Tensor& x) { return core::unary(UnaryOp::logical_not, x); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar(a, b), b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, scalar(b, a)); }
Tensor operator<=(const Tensor& a, double b) { return le(a, scalar(b, a)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, scalar(b, a)); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, scalar(b, a)); }

}  // namespace moegrad
