#include "moegrad/core/linalg.h"

#include "moegrad/core/backend.h"
#include "moegrad/core/creation.h"
#include "moegrad/core/views.h"

namespace moegrad::core {

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_same_device("matmul", {&a_in, &b_in});
  MOEGRAD_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: both operands need at least 1 dim, got ",
                a_in.shape(), " and ", b_in.shape());
  MOEGRAD_CHECK(a_in.dtype() == b_in.dtype() && is_floating(a_in.dtype()),
                "matmul: expected two float tensors of one dtype, got ", a_in.dtype(), " ",
                a_in.shape(), " and ", b_in.dtype(), " ", b_in.shape());
  const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
  Tensor a = a_vec ? unsqueeze(a_in, 0) : a_in;
  Tensor b = b_vec ? unsqueeze(b_in, 1) : b_in;
  MOEGRAD_CHECK(a.size(-1) == b.size(-2), "matmul: inner dimensions differ: a is ", a_in.shape(),
                ", b is ", b_in.shape());
  Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(batch_a, batch_b, "matmul (batch dims)");
  Shape sa = batch, sb = batch, so = batch;
  sa.insert(sa.end(), {a.size(-2), a.size(-1)});
  sb.insert(sb.end(), {b.size(-2), b.size(-1)});
  so.insert(so.end(), {a.size(-2), b.size(-1)});
  Tensor out = empty(so, a.dtype(), a.backend());
  a.backend().matmul(expand(a, sa), expand(b, sb), out, /*accumulate=*/false);
  if (a_vec) out = squeeze(out, -2);
  if (b_vec) out = squeeze(out, -1);
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_same_device("linear", {&x, &weight, &bias});
  MOEGRAD_CHECK(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1),
                "linear: expected x (rows, in) and weight (out, in), got ", x.shape(), " and ",
                weight.shape());
  MOEGRAD_CHECK(x.dtype() == weight.dtype() && is_floating(x.dtype()),
                "linear: expected float tensors of one dtype, got ", x.dtype(), " and ", weight.dtype());
  if (!bias.defined()) return matmul(x, transpose(weight, 0, 1));
  MOEGRAD_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0) && bias.dtype() == x.dtype(),
                "linear: bias of shape ", bias.shape(), " and dtype ", bias.dtype(), " must be (",
                weight.size(0), ") of dtype ", x.dtype());
  Tensor out = empty({x.size(0), weight.size(0)}, x.dtype(), x.backend());
  x.backend().copy(expand(unsqueeze(bias, 0), out.shape()), out);
  x.backend().matmul(x, transpose(weight, 0, 1), out, /*accumulate=*/true);
  return out;
}

}  // namespace moegrad::core
