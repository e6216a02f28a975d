#include "moegrad/nn/optim/clip_grad.h"

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::nn {

double clip_grad_norm_(const TensorList& params, double max_norm) {
  MOEGRAD_CHECK(max_norm > 0.0, "clip_grad_norm_: max_norm must be positive, got ", max_norm);
  NoGradGuard no_grad;
  // The squares are summed on the parameters' device, in double and in parameter order,
  // so that the norm costs one read back to the host, not one per parameter.
  Tensor sq;
  for (const Tensor& p : params) {
    Tensor g = grad(p);
    if (!g.defined()) continue;
    Tensor s = core::to(core::to(core::sum(core::binary(BinaryOp::mul, g, g)), DType::f64),
                        sq.defined() ? sq.device() : g.device());
    sq = sq.defined() ? core::binary(BinaryOp::add, sq, s) : s;
  }
  const double total = sq.defined() ? std::sqrt(sq.item<double>()) : 0.0;
  scale_gradients_to_norm_(params, total, max_norm);
  return total;
}

void scale_gradients_to_norm_(const TensorList& params, double norm, double max_norm) {
  MOEGRAD_CHECK(max_norm > 0.0, "clip_grad_norm_: max_norm must be positive, got ", max_norm);
  NoGradGuard no_grad;
  const double coef = max_norm / (norm + 1e-6);
  if (coef >= 1.0) return;
  for (const Tensor& p : params) {
    Tensor g = grad(p);
    if (g.defined()) core::binary_(BinaryOp::mul, g, core::scalar_like(coef, g));
  }
}

}  // namespace moegrad::nn
