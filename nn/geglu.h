#pragma once
#include "moegrad/nn/module.h"

namespace moegrad::nn {

// Splits the last axis into halves (x, gate) and returns gelu(gate) * x * mult_bias, the
// st-moe-pytorch GEGLU; `dim` is the output width, the input is 2 * dim wide.
class GEGLU : public Layer {
 public:
  explicit GEGLU(int64_t dim, bool mult_bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GEGLU"; }

  const int64_t dim;
  Tensor mult_bias;  // ones; undefined when disabled
};

}  // namespace moegrad::nn
