#include "moegrad/core/elementwise.h"

#include <cmath>
#include <vector>

#include "moegrad/core/creation.h"
#include "moegrad/core/views.h"

namespace moegrad::core {

namespace {
const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg: return "neg";
    case UnaryOp::exp: return "exp";
    case UnaryOp::log: return "log";
    case UnaryOp::sqrt: return "sqrt";
    case UnaryOp::abs: return "abs";
    case UnaryOp::relu: return "relu";
    case UnaryOp::gelu: return "gelu";
    case UnaryOp::gelu_grad: return "gelu_grad";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::tanh: return "tanh";
    case UnaryOp::erf: return "erf";
    case UnaryOp::pow_scalar: return "pow";
    case UnaryOp::clamp: return "clamp";
    case UnaryOp::sign: return "sign";
    case UnaryOp::logical_not: return "logical_not";
  }
  return "unary";
}

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
    case BinaryOp::pow: return "pow";
    case BinaryOp::maximum: return "maximum";
    case BinaryOp::minimum: return "minimum";
    case BinaryOp::eq: return "eq";
    case BinaryOp::ne: return "ne";
    case BinaryOp::lt: return "lt";
    case BinaryOp::le: return "le";
    case BinaryOp::gt: return "gt";
    case BinaryOp::ge: return "ge";
    case BinaryOp::logical_and: return "logical_and";
    case BinaryOp::logical_or: return "logical_or";
  }
  return "binary";
}

bool is_comparison(BinaryOp op) {
  return op == BinaryOp::eq || op == BinaryOp::ne || op == BinaryOp::lt || op == BinaryOp::le ||
         op == BinaryOp::gt || op == BinaryOp::ge;
}

void check_binary_dtypes(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  MOEGRAD_CHECK(a.dtype() == b.dtype(), name, ": dtypes differ: ", a.dtype(), " ", a.shape(),
                " and ", b.dtype(), " ", b.shape(), " (convert one with to())");
  MOEGRAD_CHECK(&a.backend() == &b.backend(), name, ": operands are on different devices");
  const DType t = a.dtype();
  if (op == BinaryOp::logical_and || op == BinaryOp::logical_or) {
    MOEGRAD_CHECK(t == DType::b8, name, ": expected bool tensors, got ", t);
  } else if (op == BinaryOp::div || op == BinaryOp::pow) {
    MOEGRAD_CHECK(is_floating(t), name, ": expected float32 or float64 tensors, got ", t);
  } else if (!(op == BinaryOp::eq || op == BinaryOp::ne)) {
    MOEGRAD_CHECK(t != DType::b8, name, ": not defined for bool tensors");
  }
}
}  // namespace

Tensor unary(UnaryOp op, const Tensor& x, const UnaryParams& p) {
  const char* name = unary_name(op);
  switch (op) {
    case UnaryOp::logical_not:
      MOEGRAD_CHECK(x.dtype() == DType::b8, name, ": expected a bool tensor, got ", x.dtype());
      break;
    case UnaryOp::neg: case UnaryOp::abs: case UnaryOp::relu: case UnaryOp::sign:
    case UnaryOp::clamp:
      MOEGRAD_CHECK(x.dtype() != DType::b8, name, ": not defined for bool tensors");
      break;
    default:
      MOEGRAD_CHECK(is_floating(x.dtype()), name, ": expected a float32 or float64 tensor, got ",
                    x.dtype(), " of shape ", x.shape());
  }
  Tensor out = empty(x.shape(), x.dtype(), x.backend());
  x.backend().unary(op, x, out, p);
  return out;
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  check_same_device(binary_name(op), {&a, &b});
  check_binary_dtypes(op, a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), binary_name(op));
  const bool to_bool = is_comparison(op) || op == BinaryOp::logical_and || op == BinaryOp::logical_or;
  Tensor out = empty(shape, to_bool ? DType::b8 : a.dtype(), a.backend());
  a.backend().binary(op, expand(a, shape), expand(b, shape), out);
  return out;
}

Tensor scalar_like(double value, const Tensor& x) {
  return scalar_tensor(value, x.dtype(), x.backend());
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_same_device("where", {&cond, &a, &b});
  MOEGRAD_CHECK(cond.dtype() == DType::b8, "where: condition must be bool, got ", cond.dtype(),
                " of shape ", cond.shape());
  MOEGRAD_CHECK(a.dtype() == b.dtype(), "where: dtypes differ: ", a.dtype(), " ", a.shape(),
                " and ", b.dtype(), " ", b.shape());
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(),
                                 "where");
  Tensor out = empty(shape, a.dtype(), a.backend());
  a.backend().where(expand(cond, shape), expand(a, shape), expand(b, shape), out);
  return out;
}

Tensor clamp(const Tensor& x, double min, double max) {
  MOEGRAD_CHECK(!std::isnan(min) && !std::isnan(max) && min <= max, "clamp: min ", min,
                " must not exceed max ", max);
  return unary(UnaryOp::clamp, x, {min, max});
}

Tensor to(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = empty(x.shape(), dtype, x.backend());
  x.backend().copy(x, out);
  return out;
}

Tensor to(const Tensor& x, const Device& device) {
  if (x.device() == device) return x;
  Backend& to_backend = backend_for(device);
  const Tensor src = x.is_contiguous() ? x : clone(x);
  Tensor out = empty(x.shape(), x.dtype(), to_backend);
  const size_t nbytes = static_cast<size_t>(x.numel()) * dtype_size(x.dtype());
  if (nbytes == 0) return out;
  // One side is host memory, or else the bytes travel through the host.
  if (src.device().is_cpu()) {
    to_backend.copy_from_host(out.raw_data(), src.raw_data(), nbytes);
  } else if (device.is_cpu()) {
    src.backend().copy_to_host(out.raw_data(), src.raw_data(), nbytes);
  } else {
    std::vector<unsigned char> host(nbytes);
    src.backend().copy_to_host(host.data(), src.raw_data(), nbytes);
    to_backend.copy_from_host(out.raw_data(), host.data(), nbytes);
  }
  return out;
}

void copy_(const Tensor& dst, const Tensor& src) {
  // Reading src while writing dst is only safe if src is not a view of dst's storage; a
  // source on another device comes over first (load_state_dict onto a GPU model).
  Tensor s = src.device() != dst.device()       ? to(src, dst.device())
             : src.storage() == dst.storage() ? clone(src)
                                              : src;
  dst.backend().copy(expand(s, dst.shape()), dst);
}

void fill_(const Tensor& dst, double value) { dst.backend().fill(dst, value); }

void binary_(BinaryOp op, const Tensor& dst, const Tensor& src) {
  check_same_device(binary_name(op), {&dst, &src});
  check_binary_dtypes(op, dst, src);
  MOEGRAD_CHECK(broadcast_shapes(dst.shape(), src.shape(), binary_name(op)) == dst.shape(),
                binary_name(op), "_: in place result must keep shape ", dst.shape(), ", got src ",
                src.shape());
  // Elementwise in place is safe on the same storage only for an identical view.
  Tensor s = (src.storage() == dst.storage() && !(src.strides() == dst.strides() &&
                                                  src.offset() == dst.offset()))
                 ? clone(src)
                 : src;
  dst.backend().binary(op, dst, expand(s, dst.shape()), dst);
}

}  // namespace moegrad::core
