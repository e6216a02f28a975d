#include "moegrad/nn/optim/adam.h"

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::nn {

Adam::Adam(NamedTensors params, const AdamOptions& opt) : Adam(std::move(params), opt, false) {}

Adam::Adam(NamedTensors params, const AdamOptions& opt, bool decoupled)
    : Optimizer(std::move(params), opt.lr), opt_(opt), decoupled_(decoupled) {
  const char* name = decoupled ? "AdamW" : "Adam";
  MOEGRAD_CHECK(opt.beta1 >= 0.0 && opt.beta1 < 1.0, name, ": beta1 must be in [0, 1), got ", opt.beta1);
  MOEGRAD_CHECK(opt.beta2 >= 0.0 && opt.beta2 < 1.0, name, ": beta2 must be in [0, 1), got ", opt.beta2);
  MOEGRAD_CHECK(opt.eps >= 0.0, name, ": eps must be >= 0, got ", opt.eps);
  MOEGRAD_CHECK(opt.weight_decay >= 0.0, name, ": weight_decay must be >= 0, got ", opt.weight_decay);
}

void Adam::step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second;
    Tensor g = grad(p);
    if (!g.defined()) continue;
    const int64_t t = next_step(i);
    AdamStep step{.lr = lr_,
                  .beta1 = opt_.beta1,
                  .beta2 = opt_.beta2,
                  .eps = opt_.eps,
                  .weight_decay = opt_.weight_decay,
                  .decoupled = decoupled_,
                  .amsgrad = opt_.amsgrad,
                  .bias_correction1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(t)),
                  .bias_correction2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(t))};
    core::adam_step(p, g, state(i, "exp_avg"), state(i, "exp_avg_sq"),
                    opt_.amsgrad ? state(i, "max_exp_avg_sq") : Tensor(), step);
  }
}

}  // namespace moegrad::nn
