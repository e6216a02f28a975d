// Unary, binary and ternary (where) elementwise kernels, one template per op family.
#include <cmath>
#include <numbers>

#include "moegrad/core/cpu/cpu_backend.h"
#include "moegrad/core/cpu/strided_loop.h"
#include "moegrad/core/scalar_formulas.h"

namespace moegrad::cpu {

namespace {

// Rows with unit strides (and, for binary ops, a broadcast scalar operand) get loops of
// their own: plain pointer walks the compiler vectorises.
template <typename In, typename Out, typename F>
void map_unary(const Tensor& x, const Tensor& out, F f) {
  const In* xp = base_ptr<In>(x);
  Out* op = base_ptr<Out>(out);
  parallel_for_each_row<2>(out.shape(), {&x.strides(), &out.strides()}, {x.offset(), out.offset()},
                  [&](Offsets<2> off, int64_t n, const Offsets<2>& st) {
                    const In* __restrict__ xr = xp + off[0];
                    Out* __restrict__ orow = op + off[1];
                    if (st[0] == 1 && st[1] == 1) {
                      for (int64_t i = 0; i < n; ++i) orow[i] = f(xr[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) orow[i * st[1]] = f(xr[i * st[0]]);
                    }
                  });
}

template <typename In, typename Out, typename F>
void map_binary(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const In* ap = base_ptr<In>(a);
  const In* bp = base_ptr<In>(b);
  Out* op = base_ptr<Out>(out);
  parallel_for_each_row<3>(out.shape(), {&a.strides(), &b.strides(), &out.strides()},
                  {a.offset(), b.offset(), out.offset()},
                  [&](Offsets<3> off, int64_t n, const Offsets<3>& st) {
                    const In* __restrict__ ar = ap + off[0];
                    const In* __restrict__ br = bp + off[1];
                    Out* __restrict__ orow = op + off[2];
                    if (st[2] == 1 && st[0] == 1 && st[1] == 1) {
                      for (int64_t i = 0; i < n; ++i) orow[i] = f(ar[i], br[i]);
                    } else if (st[2] == 1 && st[0] == 1 && st[1] == 0) {
                      const In bv = br[0];
                      for (int64_t i = 0; i < n; ++i) orow[i] = f(ar[i], bv);
                    } else if (st[2] == 1 && st[0] == 0 && st[1] == 1) {
                      const In av = ar[0];
                      for (int64_t i = 0; i < n; ++i) orow[i] = f(av, br[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) orow[i * st[2]] = f(ar[i * st[0]], br[i * st[1]]);
                    }
                  });
}

// Shared with the CUDA kernels (core/scalar_formulas.h).
using scalar::gelu;
using scalar::gelu_grad;
using scalar::sigmoid;

template <typename T>
void unary_float(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p) {
  switch (op) {
    case UnaryOp::exp: return map_unary<T, T>(x, out, [](T v) { return std::exp(v); });
    case UnaryOp::log: return map_unary<T, T>(x, out, [](T v) { return std::log(v); });
    case UnaryOp::sqrt: return map_unary<T, T>(x, out, [](T v) { return std::sqrt(v); });
    case UnaryOp::gelu: return map_unary<T, T>(x, out, gelu<T>);
    case UnaryOp::gelu_grad: return map_unary<T, T>(x, out, gelu_grad<T>);
    case UnaryOp::sigmoid: return map_unary<T, T>(x, out, sigmoid<T>);
    case UnaryOp::tanh: return map_unary<T, T>(x, out, [](T v) { return std::tanh(v); });
    case UnaryOp::erf: return map_unary<T, T>(x, out, [](T v) { return std::erf(v); });
    case UnaryOp::pow_scalar: {
      const T e = static_cast<T>(p.a);
      if (p.a == 2.0) return map_unary<T, T>(x, out, [](T v) { return v * v; });
      return map_unary<T, T>(x, out, [e](T v) { return std::pow(v, e); });
    }
    default: break;
  }
  throw Error("unary: op not implemented for floating types");
}

template <typename T>
void unary_signed(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p) {
  switch (op) {
    case UnaryOp::neg: return map_unary<T, T>(x, out, [](T v) { return -v; });
    case UnaryOp::abs: return map_unary<T, T>(x, out, [](T v) { return v < 0 ? -v : v; });
    case UnaryOp::relu: return map_unary<T, T>(x, out, [](T v) { return v > 0 ? v : T(0); });
    case UnaryOp::sign:
      return map_unary<T, T>(x, out, [](T v) { return static_cast<T>((v > 0) - (v < 0)); });
    case UnaryOp::clamp: {
      // NaN bounds are never passed; +-inf stand for "no bound".
      const double lo = p.a, hi = p.b;
      return map_unary<T, T>(x, out, [lo, hi](T v) {
        double d = static_cast<double>(v);
        if (d < lo) return static_cast<T>(lo);
        if (d > hi) return static_cast<T>(hi);
        return v;
      });
    }
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) return unary_float<T>(op, x, out, p);
  throw Error("unary: op not implemented for int64");
}

template <typename T, typename Out>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  if constexpr (std::is_same_v<Out, bool>) {
    switch (op) {
      case BinaryOp::eq: return map_binary<T, bool>(a, b, out, [](T x, T y) { return x == y; });
      case BinaryOp::ne: return map_binary<T, bool>(a, b, out, [](T x, T y) { return x != y; });
      case BinaryOp::lt: return map_binary<T, bool>(a, b, out, [](T x, T y) { return x < y; });
      case BinaryOp::le: return map_binary<T, bool>(a, b, out, [](T x, T y) { return x <= y; });
      case BinaryOp::gt: return map_binary<T, bool>(a, b, out, [](T x, T y) { return x > y; });
      case BinaryOp::ge: return map_binary<T, bool>(a, b, out, [](T x, T y) { return x >= y; });
      case BinaryOp::logical_and:
        return map_binary<T, bool>(a, b, out, [](T x, T y) { return x && y; });
      case BinaryOp::logical_or:
        return map_binary<T, bool>(a, b, out, [](T x, T y) { return x || y; });
      default: break;
    }
  } else {
    switch (op) {
      case BinaryOp::add: return map_binary<T, T>(a, b, out, [](T x, T y) { return x + y; });
      case BinaryOp::sub: return map_binary<T, T>(a, b, out, [](T x, T y) { return x - y; });
      case BinaryOp::mul: return map_binary<T, T>(a, b, out, [](T x, T y) { return x * y; });
      case BinaryOp::div: return map_binary<T, T>(a, b, out, [](T x, T y) { return x / y; });
      case BinaryOp::pow:
        return map_binary<T, T>(a, b, out, [](T x, T y) { return static_cast<T>(std::pow(x, y)); });
      // NaN propagates, as in torch.maximum.
      case BinaryOp::maximum:
        return map_binary<T, T>(a, b, out, [](T x, T y) { return (x != x || x > y) ? x : y; });
      case BinaryOp::minimum:
        return map_binary<T, T>(a, b, out, [](T x, T y) { return (x != x || x < y) ? x : y; });
      default: break;
    }
  }
  throw Error("binary: op not implemented for this dtype");
}

}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p) {
  if (op == UnaryOp::logical_not)
    return map_unary<bool, bool>(x, out, [](bool v) { return !v; });
  dispatch_numeric(x.dtype(), "unary", [&]<typename T>() { unary_signed<T>(op, x, out, p); });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_all(a.dtype(), [&]<typename T>() {
    if (out.dtype() == DType::b8) binary_typed<T, bool>(op, a, b, out);
    else binary_typed<T, T>(op, a, b, out);
  });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_all(out.dtype(), [&]<typename T>() {
    const bool* cp = base_ptr<bool>(cond);
    const T* ap = base_ptr<T>(a);
    const T* bp = base_ptr<T>(b);
    T* op = base_ptr<T>(out);
    parallel_for_each_row<4>(out.shape(), {&cond.strides(), &a.strides(), &b.strides(), &out.strides()},
                    {cond.offset(), a.offset(), b.offset(), out.offset()},
                    [&](Offsets<4> off, int64_t n, const Offsets<4>& st) {
                      for (int64_t i = 0; i < n; ++i)
                        op[off[3] + i * st[3]] =
                            cp[off[0] + i * st[0]] ? ap[off[1] + i * st[1]] : bp[off[2] + i * st[2]];
                    });
  });
}

}  // namespace moegrad::cpu
