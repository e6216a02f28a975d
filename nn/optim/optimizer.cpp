#include "moegrad/nn/optim/optimizer.h"

#include "moegrad/autograd/tensor_grad.h"
#include "moegrad/core/core.h"

namespace moegrad::nn {

Optimizer::Optimizer(NamedTensors params, double lr)
    : params_(std::move(params)), lr_(lr), steps_(params_.size(), 0) {
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

// A handle: in-place updates on it change the stored state. Zeros like the parameter, so
// on the parameter's device.
Tensor Optimizer::state(size_t i, const std::string& key) {
  const std::string name = params_[i].first + "." + key;
  if (!state_.contains(name)) state_.set(name, zeros_like(params_[i].second));
  return state_.at(name);
}

int64_t Optimizer::next_step(size_t i) {
  if (const std::string key = params_[i].first + ".step"; !state_.contains(key)) state_.set(key, Tensor());
  return ++steps_[i];
}

StateDict Optimizer::state_dict() const {
  StateDict sd = state_;
  for (size_t i = 0; i < params_.size(); ++i)
    if (const std::string key = params_[i].first + ".step"; sd.contains(key))
      sd.set(key, scalar_tensor(static_cast<double>(steps_[i]), DType::i64));
  return sd;
}

void Optimizer::load_state_dict(const StateDict& sd) {
  // Kept in the order step() creates it (by parameter, its step first), whatever order the
  // file had: the state saved next is then the same bytes as an uninterrupted run's.
  std::vector<StateDict> per_param(params_.size());
  std::vector<int64_t> steps(params_.size(), 0);
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
      steps[at->second] = t.item<int64_t>();
      MOEGRAD_CHECK(steps[at->second] >= 0, "optimizer state: '", key, "' must be a step count >= 0, got ",
                    steps[at->second]);
    } else {
      MOEGRAD_CHECK(t.shape() == p->shape(), "optimizer state: '", key, "' has shape ", t.shape(),
                    ", parameter '", param, "' has ", p->shape());
      per_param[at->second].set(key, core::clone(core::to(core::to(t, p->device()), p->dtype())));
    }
  }
  StateDict fresh;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string step_key = params_[i].first + ".step";
    if (sd.contains(step_key)) fresh.set(step_key, Tensor());
    for (const auto& [key, t] : per_param[i]) fresh.set(key, t);
  }
  state_ = fresh;
  steps_ = steps;
}

}  // namespace moegrad::nn
