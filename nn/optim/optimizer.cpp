#include "nn/optim/optimizer.h"

#include "autograd/tensor_grad.h"
#include "core/core.h"

namespace moegrad::nn {

Optimizer::Optimizer(NamedTensors params, double lr) : params_(std::move(params)), lr_(lr) {
  set_lr(lr);
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, p] = params_[i];
    MOEGRAD_CHECK(is_floating(p.dtype()), "optimizer: parameter '", name, "' is ", p.dtype(),
                  ", expected a float tensor");
    // Two parameters of one name would share one state under "<name>.<key>".
    MOEGRAD_CHECK(param_index_.try_emplace(name, i).second, "optimizer: parameter name '", name,
                  "' is given twice");
  }
}

void Optimizer::set_lr(double lr) {
  MOEGRAD_CHECK(lr >= 0.0, "optimizer: lr must be >= 0, got ", lr);
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (const auto& [name, p] : params_) moegrad::zero_grad(p);
}

// A handle: in-place updates on it change the stored state.
Tensor Optimizer::state(size_t i, const std::string& key) {
  const std::string name = params_[i].first + "." + key;
  if (!state_.contains(name)) state_.set(name, zeros_like(params_[i].second));
  return state_.at(name);
}

int64_t Optimizer::next_step(size_t i) {
  const std::string name = params_[i].first + ".step";
  if (!state_.contains(name)) state_.set(name, zeros({}, DType::i64));
  Tensor s = state_.at(name);
  core::binary_(BinaryOp::add, s, core::scalar_like(1.0, s));
  return s.item<int64_t>();
}

StateDict Optimizer::state_dict() const { return state_; }

void Optimizer::load_state_dict(const StateDict& sd) {
  StateDict fresh;
  for (const auto& [key, t] : sd) {
    const size_t dot = key.rfind('.');
    const std::string param = dot == std::string::npos ? "" : key.substr(0, dot);
    const std::string what = dot == std::string::npos ? key : key.substr(dot + 1);
    auto at = param_index_.find(param);
    const Tensor* p = at == param_index_.end() ? nullptr : &params_[at->second].second;
    MOEGRAD_CHECK(p != nullptr, "optimizer state: key '", key, "' names no parameter of this optimizer");
    if (what == "step") {
      MOEGRAD_CHECK(t.numel() == 1, "optimizer state: '", key, "' must hold one value, got shape ",
                    t.shape());
      fresh.set(key, core::reshape(core::to(t, DType::i64), {}));
    } else {
      MOEGRAD_CHECK(t.shape() == p->shape(), "optimizer state: '", key, "' has shape ", t.shape(),
                    ", parameter '", param, "' has ", p->shape());
      fresh.set(key, core::clone(core::to(t, p->dtype())));
    }
  }
  state_ = fresh;
}

}  // namespace moegrad::nn
