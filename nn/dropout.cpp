#include "moegrad/nn/dropout.h"

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::nn {

Dropout::Dropout(double prob, Generator& gen) : p(prob), gen_(gen) {
  MOEGRAD_CHECK(p >= 0.0 && p <= 1.0, "Dropout: p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p == 0.0) return x;
  if (p == 1.0) return x * 0.0;
  Tensor keep = core::to(rand(x.shape(), gen_, x.dtype(), x.backend()) >= p, x.dtype());
  return x * (keep / (1.0 - p));
}

std::string Dropout::extra_repr() const { return str_cat("p=", p); }

}  // namespace moegrad::nn
