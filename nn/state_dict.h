#pragma once
// An ordered name -> tensor map: the order PyTorch's state_dict() would list them in.
// Lookups are hashed, so filling one with n entries costs O(n), not O(n^2) (a model or an
// optimizer state can hold 10^5 entries).
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "moegrad/core/tensor.h"

namespace moegrad::nn {

class StateDict {
 public:
  using Entry = std::pair<std::string, Tensor>;

  // Adds or replaces.
  void set(const std::string& name, const Tensor& t);
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  const Tensor* find(const std::string& name) const;
  // Throws naming the key when absent.
  const Tensor& at(const std::string& name) const;
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;  // name -> position in entries_
};

}  // namespace moegrad::nn
