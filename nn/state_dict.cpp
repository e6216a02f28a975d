#include "moegrad/nn/state_dict.h"

namespace moegrad::nn {

void StateDict::set(const std::string& name, const Tensor& t) {
  auto [it, fresh] = index_.try_emplace(name, entries_.size());
  if (fresh) entries_.emplace_back(name, t);
  else entries_[it->second].second = t;
}

const Tensor* StateDict::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

const Tensor& StateDict::at(const std::string& name) const {
  const Tensor* t = find(name);
  MOEGRAD_CHECK(t != nullptr, "state dict has no entry '", name, "'");
  return *t;
}

}  // namespace moegrad::nn
