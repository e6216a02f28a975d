// copy (with dtype conversion), fill, arange, and the unary, binary and where maps: one
// thread per output element over strided views, each element computed exactly as
// core/cpu/elementwise.cpp and core/cpu/memory.cpp compute it.
#include <type_traits>

#include "moegrad/core/cuda/backend_impl.h"
#include "moegrad/core/cuda/launch.h"
#include "moegrad/core/cuda/layout.h"
#include "moegrad/core/scalar_formulas.h"

namespace moegrad::cuda {

using scalar::gelu;
using scalar::gelu_grad;
using scalar::normal_cdf;
using scalar::normal_pdf;
using scalar::sigmoid;

namespace {

template <typename S, typename D>
__global__ void copy_kernel(Layout<2> l, const S* src, D* out) {
  for (int64_t i = grid_first(); i < l.numel; i += grid_stride()) {
    int64_t o[2];
    offsets_at(l, i, o);
    out[o[1]] = static_cast<D>(src[o[0]]);
  }
}

template <typename D>
__global__ void fill_kernel(Layout<1> l, D value, D* out) {
  for (int64_t i = grid_first(); i < l.numel; i += grid_stride()) {
    int64_t o[1];
    offsets_at(l, i, o);
    out[o[0]] = value;
  }
}

template <typename D>
__global__ void arange_kernel(int64_t n, double start, double step, D* out) {
  for (int64_t i = grid_first(); i < n; i += grid_stride())
    out[i] = static_cast<D>(start + static_cast<double>(i) * step);
}

template <typename T>
__device__ inline T unary_value(UnaryOp op, T v, double a, double b) {
  switch (op) {
    case UnaryOp::neg: return -v;
    case UnaryOp::abs: return v < 0 ? -v : v;
    case UnaryOp::relu: return v > 0 ? v : T(0);
    case UnaryOp::sign: return static_cast<T>((v > 0) - (v < 0));
    case UnaryOp::clamp: {
      const double d = static_cast<double>(v);
      if (d < a) return static_cast<T>(a);
      if (d > b) return static_cast<T>(b);
      return v;
    }
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case UnaryOp::exp: return std::exp(v);
      case UnaryOp::log: return std::log(v);
      case UnaryOp::sqrt: return std::sqrt(v);
      case UnaryOp::gelu: return gelu(v);
      case UnaryOp::gelu_grad: return gelu_grad(v);
      case UnaryOp::sigmoid: return sigmoid(v);
      case UnaryOp::tanh: return std::tanh(v);
      case UnaryOp::erf: return std::erf(v);
      case UnaryOp::pow_scalar: return a == 2.0 ? v * v : std::pow(v, static_cast<T>(a));
      default: break;
    }
  }
  return v;  // not reached: the host refuses other ops
}

template <typename T>
__global__ void unary_kernel(Layout<2> l, UnaryOp op, double a, double b, const T* x, T* out) {
  for (int64_t i = grid_first(); i < l.numel; i += grid_stride()) {
    int64_t o[2];
    offsets_at(l, i, o);
    out[o[1]] = unary_value<T>(op, x[o[0]], a, b);
  }
}

__global__ void logical_not_kernel(Layout<2> l, const bool* x, bool* out) {
  for (int64_t i = grid_first(); i < l.numel; i += grid_stride()) {
    int64_t o[2];
    offsets_at(l, i, o);
    out[o[1]] = !x[o[0]];
  }
}

template <typename T, typename Out>
__device__ inline Out binary_value(BinaryOp op, T x, T y) {
  if constexpr (std::is_same_v<Out, bool>) {
    switch (op) {
      case BinaryOp::eq: return x == y;
      case BinaryOp::ne: return x != y;
      case BinaryOp::lt: return x < y;
      case BinaryOp::le: return x <= y;
      case BinaryOp::gt: return x > y;
      case BinaryOp::ge: return x >= y;
      case BinaryOp::logical_and: return x && y;
      case BinaryOp::logical_or: return x || y;
      default: break;
    }
    return false;
  } else {
    switch (op) {
      case BinaryOp::add: return x + y;
      case BinaryOp::sub: return x - y;
      case BinaryOp::mul: return x * y;
      case BinaryOp::div: return x / y;
      case BinaryOp::pow:
        // std::pow of two integers computes in double, as the CPU's call does.
        if constexpr (std::is_floating_point_v<T>) return std::pow(x, y);
        else return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
      case BinaryOp::maximum: return (x != x || x > y) ? x : y;
      case BinaryOp::minimum: return (x != x || x < y) ? x : y;
      default: break;
    }
    return x;
  }
}

template <typename T, typename Out>
__global__ void binary_kernel(Layout<3> l, BinaryOp op, const T* a, const T* b, Out* out) {
  for (int64_t i = grid_first(); i < l.numel; i += grid_stride()) {
    int64_t o[3];
    offsets_at(l, i, o);
    out[o[2]] = binary_value<T, Out>(op, a[o[0]], b[o[1]]);
  }
}

template <typename T>
__global__ void where_kernel(Layout<4> l, const bool* c, const T* a, const T* b, T* out) {
  for (int64_t i = grid_first(); i < l.numel; i += grid_stride()) {
    int64_t o[4];
    offsets_at(l, i, o);
    out[o[3]] = c[o[0]] ? a[o[1]] : b[o[2]];
  }
}

bool is_comparison(BinaryOp op) {
  switch (op) {
    case BinaryOp::eq: case BinaryOp::ne: case BinaryOp::lt: case BinaryOp::le: case BinaryOp::gt:
    case BinaryOp::ge: case BinaryOp::logical_and: case BinaryOp::logical_or: return true;
    default: return false;
  }
}

bool is_float_only(UnaryOp op) {
  switch (op) {
    case UnaryOp::exp: case UnaryOp::log: case UnaryOp::sqrt: case UnaryOp::gelu: case UnaryOp::gelu_grad:
    case UnaryOp::sigmoid: case UnaryOp::tanh: case UnaryOp::erf: case UnaryOp::pow_scalar: return true;
    default: return false;
  }
}

}  // namespace

void CudaBackend::copy(const Tensor& src, const Tensor& out) {
  ctx_.activate("copy");
  const Layout<2> l = make_layout<2>("copy", out.shape(), {&src.strides(), &out.strides()},
                                     {src.offset(), out.offset()});
  dispatch_all(src.dtype(), [&]<typename S>() {
    dispatch_all(out.dtype(), [&]<typename D>() {
      launch(ctx_, "copy", l.numel, copy_kernel<S, D>, l, base_ptr<S>(src), base_ptr<D>(out));
    });
  });
}

void CudaBackend::fill(const Tensor& out, double value) {
  ctx_.activate("fill");
  const Layout<1> l = make_layout<1>("fill", out.shape(), {&out.strides()}, {out.offset()});
  dispatch_all(out.dtype(), [&]<typename D>() {
    launch(ctx_, "fill", l.numel, fill_kernel<D>, l, static_cast<D>(value), base_ptr<D>(out));
  });
}

void CudaBackend::arange(const Tensor& out, double start, double step) {
  ctx_.activate("arange");
  dispatch_numeric(out.dtype(), "arange", [&]<typename D>() {
    launch(ctx_, "arange", out.numel(), arange_kernel<D>, out.numel(), start, step, out.data_ptr<D>());
  });
}

void CudaBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p) {
  ctx_.activate("unary");
  const Layout<2> l = make_layout<2>("unary", out.shape(), {&x.strides(), &out.strides()}, {x.offset(), out.offset()});
  if (op == UnaryOp::logical_not)
    return launch(ctx_, "unary", l.numel, logical_not_kernel, l, base_ptr<bool>(x), base_ptr<bool>(out));
  dispatch_numeric(x.dtype(), "unary", [&]<typename T>() {
    if (!std::is_floating_point_v<T> && is_float_only(op)) throw Error("unary: op not implemented for int64");
    launch(ctx_, "unary", l.numel, unary_kernel<T>, l, op, p.a, p.b, base_ptr<T>(x), base_ptr<T>(out));
  });
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  ctx_.activate("binary");
  const Layout<3> l = make_layout<3>("binary", out.shape(), {&a.strides(), &b.strides(), &out.strides()},
                                     {a.offset(), b.offset(), out.offset()});
  dispatch_all(a.dtype(), [&]<typename T>() {
    const bool to_bool = out.dtype() == DType::b8;
    // bool operands take the comparison path only, as on the CPU (Out = T = bool).
    if (to_bool != is_comparison(op)) throw Error("binary: op not implemented for this dtype");
    if (to_bool) {
      launch(ctx_, "binary", l.numel, binary_kernel<T, bool>, l, op, base_ptr<T>(a), base_ptr<T>(b),
             base_ptr<bool>(out));
    } else if constexpr (!std::is_same_v<T, bool>) {
      launch(ctx_, "binary", l.numel, binary_kernel<T, T>, l, op, base_ptr<T>(a), base_ptr<T>(b), base_ptr<T>(out));
    } else {
      throw Error("binary: op not implemented for this dtype");
    }
  });
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  ctx_.activate("where");
  const Layout<4> l = make_layout<4>("where", out.shape(), {&cond.strides(), &a.strides(), &b.strides(), &out.strides()},
                                     {cond.offset(), a.offset(), b.offset(), out.offset()});
  dispatch_all(out.dtype(), [&]<typename T>() {
    launch(ctx_, "where", l.numel, where_kernel<T>, l, base_ptr<bool>(cond), base_ptr<T>(a), base_ptr<T>(b),
           base_ptr<T>(out));
  });
}

}  // namespace moegrad::cuda
