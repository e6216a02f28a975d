#pragma once
#include "moegrad/nn/module.h"

namespace moegrad::nn {

// x * sigmoid(x).
Tensor silu(const Tensor& x);

class ReLU : public Layer {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

// The exact (erf) GELU, torch's default.
class GELU : public Layer {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GELU"; }
};

class SiLU : public Layer {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SiLU"; }
};

}  // namespace moegrad::nn
