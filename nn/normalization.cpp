#include "moegrad/nn/normalization.h"

#include <cmath>
#include <limits>

#include "moegrad/autograd/autograd.h"

namespace moegrad::nn {

LayerNorm::LayerNorm(int64_t n, double e, bool affine, DType dtype) : normalized_shape(n), eps(e) {
  MOEGRAD_CHECK(n > 0, "LayerNorm: normalized_shape must be positive, got ", n);
  if (affine) {
    weight = ones({n}, dtype);
    bias = zeros({n}, dtype);
    register_parameter("weight", weight);
    register_parameter("bias", bias);
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  MOEGRAD_CHECK(x.dim() >= 1 && x.size(-1) == normalized_shape, "LayerNorm: input of shape ",
                x.shape(), " does not end in normalized_shape=", normalized_shape);
  Tensor centered = x - mean(x, {-1}, true);
  Tensor var = mean(centered * centered, {-1}, true);
  Tensor y = centered / sqrt(var + eps);
  return weight.defined() ? y * weight + bias : y;
}

std::string LayerNorm::extra_repr() const {
  return str_cat("(", normalized_shape, ",), eps=", eps,
                 ", elementwise_affine=", weight.defined() ? "True" : "False");
}

RMSNorm::RMSNorm(int64_t d, DType dtype) : dim(d) {
  MOEGRAD_CHECK(d > 0, "RMSNorm: dim must be positive, got ", d);
  gamma = ones({d}, dtype);
  register_parameter("gamma", gamma);
}

Tensor RMSNorm::forward(const Tensor& x) {
  MOEGRAD_CHECK(x.dim() >= 1 && x.size(-1) == dim, "RMSNorm: input of shape ", x.shape(),
                " does not end in dim=", dim);
  return rms_normalize(x, 1e-12, std::sqrt(static_cast<double>(dim))) * gamma;
}

}  // namespace moegrad::nn
