#pragma once
#include "moegrad/nn/module.h"

namespace moegrad::nn {

// torch.nn.LayerNorm over the last dim: biased variance, eps inside the sqrt.
class LayerNorm : public Layer {
 public:
  explicit LayerNorm(int64_t normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;

  const int64_t normalized_shape;
  const double eps;
  Tensor weight, bias;  // undefined without elementwise_affine
};

// The spec's RMSNorm: x / max(||x||_2, 1e-12) * sqrt(dim) * gamma over the last dim
// (F.normalize(x, dim=-1) * scale * gamma, as st-moe-pytorch writes it).
class RMSNorm : public Layer {
 public:
  explicit RMSNorm(int64_t dim, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "RMSNorm"; }

  const int64_t dim;
  Tensor gamma;
};

}  // namespace moegrad::nn
