#include "moegrad/nn/module.h"

#include <algorithm>

#include "moegrad/autograd/tensor_grad.h"
#include "moegrad/core/core.h"

namespace moegrad::nn {

void Module::check_name(const std::string& name) const {
  MOEGRAD_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(),
                ": invalid member name '", name, "' (non-empty, no '.')");
  auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& e) { return e.first == name; });
  };
  MOEGRAD_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), type_name(),
                ": name '", name, "' is registered twice");
}

void Module::register_parameter(const std::string& name, Tensor& slot) {
  check_name(name);
  MOEGRAD_CHECK(slot.defined() && is_floating(slot.dtype()), type_name(), ": parameter '", name,
                "' must be a defined float tensor");
  requires_grad_(slot);
  params_.emplace_back(name, &slot);
}

void Module::register_buffer(const std::string& name, Tensor& slot) {
  check_name(name);
  buffers_.emplace_back(name, &slot);
}

void Module::add_child(const std::string& name, std::function<std::shared_ptr<Module>()> get) {
  check_name(name);
  children_.emplace_back(name, std::move(get));
}

void Module::register_element(const std::string& name, std::shared_ptr<Module> m) {
  MOEGRAD_CHECK(m != nullptr, type_name(), ": submodule '", name, "' is null");
  add_child(name, [m = std::move(m)] { return m; });
}

std::shared_ptr<Module> Module::find_module(const std::string& path) const {
  const size_t dot = path.find('.');
  const std::string head = path.substr(0, dot);
  for (const auto& [name, child] : named_children()) {
    if (name != head) continue;
    return dot == std::string::npos ? child : child->find_module(path.substr(dot + 1));
  }
  return nullptr;
}

void Module::collect(const std::string& prefix, bool params, NamedTensors& out) const {
  for (const auto& [name, slot] : params ? params_ : buffers_) out.emplace_back(prefix + name, *slot);
  for (const auto& [name, child] : named_children()) child->collect(prefix + name + ".", params, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

TensorList Module::parameters() const {
  TensorList out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  for (const auto& [name, get] : children_)
    if (std::shared_ptr<Module> m = get()) out.emplace_back(name, std::move(m));
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

StateDict Module::state_dict() const {
  StateDict sd;
  // PyTorch: a module's own parameters, then its buffers, then each child in turn.
  struct Walk {
    static void run(const Module& m, const std::string& prefix, StateDict& sd) {
      for (const auto& [name, slot] : m.params_) sd.set(prefix + name, *slot);
      for (const auto& [name, slot] : m.buffers_) sd.set(prefix + name, *slot);
      for (const auto& [name, child] : m.named_children()) run(*child, prefix + name + ".", sd);
    }
  };
  Walk::run(*this, "", sd);
  return sd;
}

void Module::load_state_dict(const StateDict& sd, bool strict) {
  StateDict own = state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, t] : own) {
    const Tensor* src = sd.find(name);
    if (!src) missing.push_back(name);
    else if (src->shape() != t.shape())
      mismatched.push_back(str_cat(name, " (checkpoint ", src->shape(), ", model ", t.shape(), ")"));
  }
  for (const auto& [name, t] : sd)
    if (!own.contains(name)) unexpected.push_back(name);
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  const bool bad = !mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()));
  if (bad) {
    std::string msg = "load_state_dict for " + type_name() + ":";
    if (!missing.empty() && strict) msg += " missing keys: " + join(missing) + ";";
    if (!unexpected.empty() && strict) msg += " unexpected keys: " + join(unexpected) + ";";
    if (!mismatched.empty()) msg += " shape mismatch: " + join(mismatched) + ";";
    throw Error(msg);
  }
  NoGradGuard no_grad;
  for (const auto& [name, t] : own)
    if (const Tensor* src = sd.find(name)) core::copy_(t, core::to(*src, t.dtype()));
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : named_children()) child->train(on);
}

void Module::zero_grad() {
  for (const Tensor& p : parameters()) moegrad::zero_grad(p);
}

void Module::notify_optimizer_step() {
  on_optimizer_step();
  for (auto& [name, child] : named_children()) child->notify_optimizer_step();
}

void Module::to(DType dtype) {
  for (auto& [name, slot] : params_)
    if (slot->dtype() != dtype) *slot = requires_grad_(core::to(*slot, dtype));
  for (auto& [name, slot] : buffers_)
    if (is_floating(slot->dtype()) && slot->dtype() != dtype) *slot = core::to(*slot, dtype);
  for (auto& [name, child] : named_children()) child->to(dtype);
}

void Module::to(const Device& device) {
  for (auto& [name, slot] : params_) {
    if (slot->device() == device) continue;
    const Tensor g = grad(*slot);
    *slot = requires_grad_(core::to(*slot, device));
    if (g.defined()) set_grad(*slot, core::to(g, device));
  }
  for (auto& [name, slot] : buffers_)
    if (slot->defined() && slot->device() != device) *slot = core::to(*slot, device);
  for (auto& [name, child] : named_children()) child->to(device);
}

void Module::repr_into(std::string& out, int indent) const {
  out += type_name() + "(" + extra_repr();
  if (const auto children = named_children(); !children.empty()) {
    out += "\n";
    for (const auto& [name, child] : children) {
      out += std::string(indent + 2, ' ') + "(" + name + "): ";
      child->repr_into(out, indent + 2);
      out += "\n";
    }
    out += std::string(indent, ' ');
  }
  out += ")";
}

std::string Module::repr() const {
  std::string out;
  repr_into(out, 0);
  return out;
}

}  // namespace moegrad::nn
