#pragma once
// Elementwise ops with NumPy broadcasting. Operands must share a dtype (no silent
// promotion: a float32/float64 mix is a bug worth an error); a double scalar takes the
// tensor's dtype. Comparisons return bool.
#include "moegrad/core/backend.h"
#include "moegrad/core/tensor.h"

namespace moegrad::core {

Tensor unary(UnaryOp op, const Tensor& x, const UnaryParams& p = {});
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
// A 0-d tensor of `value` in x's dtype and backend, for tensor-scalar ops.
Tensor scalar_like(double value, const Tensor& x);

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor clamp(const Tensor& x, double min, double max);
// Converts to dtype; returns x itself when it already has it.
Tensor to(const Tensor& x, DType dtype);
// Copies to device (contiguous there); returns x itself when it is already there.
Tensor to(const Tensor& x, const Device& device);

// In place, on views: dst[...] = src (broadcast to dst), dst[...] = value.
void copy_(const Tensor& dst, const Tensor& src);
void fill_(const Tensor& dst, double value);
// dst = dst op src with src broadcast to dst; dst keeps its storage (optimizers,
// gradient accumulation).
void binary_(BinaryOp op, const Tensor& dst, const Tensor& src);

}  // namespace moegrad::core
