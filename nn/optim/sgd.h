#pragma once
#include "moegrad/nn/optim/optimizer.h"

namespace moegrad::nn {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

// torch.optim.SGD: d = g + wd p; buf = momentum buf + (1 - dampening) d (buf = d on the
// first step); d = d + momentum buf (nesterov) or buf; p -= lr d.
class SGD : public Optimizer {
 public:
  SGD(NamedTensors params, const SGDOptions& opt);
  void step() override;

 private:
  SGDOptions opt_;
};

}  // namespace moegrad::nn
