#pragma once
#include "moegrad/nn/module.h"

namespace moegrad::nn {

// Splits the last axis into halves (x, gate) and returns silu(gate) * x: the SwiGLU of
// Shazeer's "GLU Variants Improve Transformer" (arXiv 2002.05202), halves ordered as
// st-moe-pytorch's GEGLU; `dim` is the output width, the input is 2 * dim wide.
class SwiGLU : public Layer {
 public:
  explicit SwiGLU(int64_t dim);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SwiGLU"; }
  std::string extra_repr() const override;

  const int64_t dim;
};

}  // namespace moegrad::nn
