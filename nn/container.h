#pragma once
#include <memory>
#include <vector>

#include "moegrad/nn/module.h"

namespace moegrad::nn {

// Layers applied in order; children are named "0", "1", ... as in torch.nn.Sequential.
class Sequential : public Layer {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers);
  void push_back(std::shared_ptr<Layer> layer);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return layers_.size(); }
  const std::shared_ptr<Layer>& operator[](size_t i) const { return layers_.at(i); }

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

// A list of modules of one type, named "0", "1", ... as in torch.nn.ModuleList, or from
// `first_name` on: a part of a longer list keeps the names it has in the whole.
template <typename M>
class ModuleList : public Module {
 public:
  explicit ModuleList(size_t first_name = 0) : first_name_(first_name) {}
  void push_back(std::shared_ptr<M> m) {
    register_element(std::to_string(first_name_ + items_.size()), m);
    items_.push_back(std::move(m));
  }
  std::string type_name() const override { return "ModuleList"; }
  size_t size() const { return items_.size(); }
  M& operator[](size_t i) const { return *items_.at(i); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  size_t first_name_;
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace moegrad::nn
