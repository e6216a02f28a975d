#include "nn/optim/clip_grad.h"

#include <cmath>

#include "autograd/autograd.h"
#include "core/core.h"

namespace moegrad::nn {

double clip_grad_norm_(const TensorList& params, double max_norm) {
  MOEGRAD_CHECK(max_norm > 0.0, "clip_grad_norm_: max_norm must be positive, got ", max_norm);
  NoGradGuard no_grad;
  double sq = 0.0;
  for (const Tensor& p : params) {
    Tensor g = grad(p);
    if (!g.defined()) continue;
    sq += core::sum(core::binary(BinaryOp::mul, g, g)).item<double>();
  }
  const double total = std::sqrt(sq);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {
    for (const Tensor& p : params) {
      Tensor g = grad(p);
      if (g.defined()) core::binary_(BinaryOp::mul, g, core::scalar_like(coef, g));
    }
  }
  return total;
}

}  // namespace moegrad::nn
