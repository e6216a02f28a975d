#include "moegrad/core/fused.h"

#include "moegrad/core/creation.h"
#include "moegrad/core/elementwise.h"
#include "moegrad/core/views.h"

namespace moegrad::core {

std::pair<Tensor, Tensor> geglu(const Tensor& x_in, const Tensor& mult_bias) {
  check_same_device("geglu", {&x_in, &mult_bias});
  MOEGRAD_CHECK(is_floating(x_in.dtype()), "geglu: expected a float tensor, got ", x_in.dtype());
  MOEGRAD_CHECK(x_in.dim() >= 1 && x_in.size(-1) % 2 == 0, "geglu: the last dim of shape ", x_in.shape(),
                " must be even (value and gate halves)");
  Tensor x = contiguous(x_in);
  Shape half = x.shape();
  half.back() /= 2;
  if (mult_bias.defined())
    MOEGRAD_CHECK(mult_bias.dim() == 1 && mult_bias.size(0) == half.back() && mult_bias.dtype() == x.dtype(),
                  "geglu: mult_bias of shape ", mult_bias.shape(), " and dtype ", mult_bias.dtype(),
                  " must be (", half.back(), ") of dtype ", x.dtype());
  Tensor out = empty(half, x.dtype(), x.backend()), cdf = empty(half, x.dtype(), x.backend());
  x.backend().geglu(x, mult_bias.defined() ? contiguous(mult_bias) : mult_bias, out, cdf);
  return {out, cdf};
}

std::pair<Tensor, Tensor> geglu_backward(const Tensor& x, const Tensor& cdf, const Tensor& mult_bias,
                                         const Tensor& grad_out, bool with_mult_bias) {
  check_same_device("geglu_backward", {&x, &cdf, &mult_bias, &grad_out});
  MOEGRAD_CHECK(!with_mult_bias || mult_bias.defined(), "geglu_backward: a mult_bias gradient needs mult_bias");
  Tensor grad_x = empty(x.shape(), x.dtype(), x.backend());
  Tensor grad_mb = with_mult_bias ? empty(mult_bias.shape(), x.dtype(), x.backend()) : Tensor();
  x.backend().geglu_backward(contiguous(x), contiguous(cdf), mult_bias.defined() ? contiguous(mult_bias) : mult_bias,
                             contiguous(to(grad_out, x.dtype())), grad_x, grad_mb);
  return {grad_x, grad_mb};
}

std::pair<Tensor, Tensor> rms_norm(const Tensor& x_in, double eps, double scale) {
  MOEGRAD_CHECK(is_floating(x_in.dtype()) && x_in.dim() >= 1, "rms_norm: expected a float tensor with a last dim, got ",
                x_in.dtype(), " ", x_in.shape());
  Tensor x = contiguous(x_in);
  Shape rows = x.shape();
  rows.back() = 1;
  Tensor out = empty(x.shape(), x.dtype(), x.backend()), inv = empty(rows, x.dtype(), x.backend());
  x.backend().rms_norm(x, eps, scale, out, inv);
  return {out, inv};
}

Tensor rms_norm_backward(const Tensor& x, const Tensor& inv_norm, double eps, double scale, const Tensor& grad_out) {
  check_same_device("rms_norm_backward", {&x, &inv_norm, &grad_out});
  Tensor grad_x = empty(x.shape(), x.dtype(), x.backend());
  x.backend().rms_norm_backward(contiguous(x), contiguous(inv_norm), eps, scale, contiguous(to(grad_out, x.dtype())),
                                grad_x);
  return grad_x;
}

void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStep& step) {
  check_same_device("adam_step", {&param, &grad, &exp_avg, &exp_avg_sq, &max_exp_avg_sq});
  for (const Tensor* t : {&param, &exp_avg, &exp_avg_sq})
    MOEGRAD_CHECK(t->is_contiguous() && t->shape() == param.shape() && t->dtype() == param.dtype(),
                  "adam_step: state of shape ", t->shape(), " does not match parameter ", param.shape());
  MOEGRAD_CHECK(!step.amsgrad || (max_exp_avg_sq.defined() && max_exp_avg_sq.is_contiguous()),
                "adam_step: amsgrad needs max_exp_avg_sq");
  MOEGRAD_CHECK(grad.shape() == param.shape(), "adam_step: gradient of shape ", grad.shape(),
                " for a parameter of shape ", param.shape());
  param.backend().adam_step(param, contiguous(to(grad, param.dtype())), exp_avg, exp_avg_sq, max_exp_avg_sq, step);
}

}  // namespace moegrad::core
