#pragma once
#include "moegrad/nn/optim/optimizer.h"

namespace moegrad::nn {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
};

// torch.optim.Adam (weight decay added to the gradient) and, with decoupled weight decay,
// torch.optim.AdamW (p *= 1 - lr wd before the update). Per parameter, step t:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
class Adam : public Optimizer {
 public:
  Adam(NamedTensors params, const AdamOptions& opt);
  void step() override;

 protected:
  Adam(NamedTensors params, const AdamOptions& opt, bool decoupled);

 private:
  AdamOptions opt_;
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  // torch's AdamW default weight_decay is 1e-2.
  AdamW(NamedTensors params, const AdamOptions& opt) : Adam(std::move(params), opt, true) {}
};

}  // namespace moegrad::nn
