#include "nn/state_dict.h"

namespace moegrad::nn {

void StateDict::set(const std::string& name, const Tensor& t) {
  for (auto& [n, v] : entries_) {
    if (n == name) {
      v = t;
      return;
    }
  }
  entries_.emplace_back(name, t);
}

const Tensor* StateDict::find(const std::string& name) const {
  for (const auto& [n, v] : entries_)
    if (n == name) return &v;
  return nullptr;
}

const Tensor& StateDict::at(const std::string& name) const {
  const Tensor* t = find(name);
  MOEGRAD_CHECK(t != nullptr, "state dict has no entry '", name, "'");
  return *t;
}

}  // namespace moegrad::nn
