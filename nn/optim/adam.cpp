#include "nn/optim/adam.h"

#include <cmath>

#include "autograd/autograd.h"
#include "core/core.h"

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
    if (opt_.weight_decay != 0.0) {
      if (decoupled_) core::binary_(BinaryOp::mul, p, core::scalar_like(1.0 - lr_ * opt_.weight_decay, p));
      else g = g + p * opt_.weight_decay;
    }
    Tensor m = state(i, "exp_avg");
    Tensor v = state(i, "exp_avg_sq");
    core::binary_(BinaryOp::mul, m, core::scalar_like(opt_.beta1, m));
    core::binary_(BinaryOp::add, m, g * (1.0 - opt_.beta1));
    core::binary_(BinaryOp::mul, v, core::scalar_like(opt_.beta2, v));
    core::binary_(BinaryOp::add, v, g * g * (1.0 - opt_.beta2));
    const double bias_correction1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(t));
    const double bias_correction2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(t));
    Tensor second = v;
    if (opt_.amsgrad) {
      Tensor vmax = state(i, "max_exp_avg_sq");
      core::copy_(vmax, maximum(vmax, v));
      second = vmax;
    }
    Tensor denom = sqrt(second) / std::sqrt(bias_correction2) + opt_.eps;
    core::binary_(BinaryOp::sub, p, m / denom * (lr_ / bias_correction1));
  }
}

}  // namespace moegrad::nn
