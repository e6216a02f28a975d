#pragma once
#include "moegrad/core/generator.h"
#include "moegrad/nn/module.h"

namespace moegrad::nn {

// y = x W^T + b, W (out_features, in_features); torch's default init:
// W, b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
class Linear : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen,
         DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;

  const int64_t in_features, out_features;
  Tensor weight;
  Tensor bias;  // undefined without bias
};

}  // namespace moegrad::nn
