#include "moegrad/nn/optim/sgd.h"

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::nn {

SGD::SGD(NamedTensors params, const SGDOptions& opt) : Optimizer(std::move(params), opt.lr), opt_(opt) {
  MOEGRAD_CHECK(opt.momentum >= 0.0, "SGD: momentum must be >= 0, got ", opt.momentum);
  MOEGRAD_CHECK(opt.weight_decay >= 0.0, "SGD: weight_decay must be >= 0, got ", opt.weight_decay);
  MOEGRAD_CHECK(!opt.nesterov || (opt.momentum > 0.0 && opt.dampening == 0.0),
                "SGD: nesterov needs momentum > 0 and dampening = 0");
}

void SGD::step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second;
    Tensor g = grad(p);
    if (!g.defined()) continue;
    const bool first = next_step(i) == 1;
    Tensor d = opt_.weight_decay != 0.0 ? g + p * opt_.weight_decay : g;
    if (opt_.momentum != 0.0) {
      Tensor buf = state(i, "momentum_buffer");
      if (first) {
        core::copy_(buf, d);
      } else {
        core::binary_(BinaryOp::mul, buf, core::scalar_like(opt_.momentum, buf));
        core::binary_(BinaryOp::add, buf, d * (1.0 - opt_.dampening));
      }
      d = opt_.nesterov ? d + buf * opt_.momentum : buf;
    }
    core::binary_(BinaryOp::sub, p, d * lr_);
  }
}

}  // namespace moegrad::nn
