#pragma once
#include "moegrad/core/generator.h"
#include "moegrad/nn/module.h"

namespace moegrad::nn {

// Zeroes each element with probability p in training and scales the rest by 1/(1-p);
// the identity in eval. Masks come from the Generator given at construction, which must
// outlive the module.
class Dropout : public Layer {
 public:
  Dropout(double p, Generator& gen);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;

  const double p;

 private:
  Generator& gen_;
};

}  // namespace moegrad::nn
