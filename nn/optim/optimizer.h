#pragma once
// Optimizers update parameters in place with torch.optim's formulas. Parameters are
// held by name, so optimizer state saves under stable keys ("<param>.exp_avg"), not
// by position. As in torch, a parameter whose grad is undefined is skipped entirely.
// Every per-parameter lookup is hashed: a step over n parameters costs O(n).
#include <string>
#include <unordered_map>
#include <vector>

#include "moegrad/nn/module.h"
#include "moegrad/nn/state_dict.h"

namespace moegrad::nn {

class Optimizer {
 public:
  Optimizer(NamedTensors params, double lr);
  virtual ~Optimizer() = default;

  virtual void step() = 0;
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr);

  // Per-parameter state (step counts and moment buffers) under "<param>.<key>".
  StateDict state_dict() const;
  // Restores state saved by state_dict(); every key must name a parameter of this
  // optimizer and match its shape, else the error names the key.
  void load_state_dict(const StateDict& sd);

 protected:
  // The state tensor `key` of parameter i, created as zeros like the parameter.
  Tensor state(size_t i, const std::string& key);
  // Increments and returns the step count of parameter i.
  int64_t next_step(size_t i);

  NamedTensors params_;
  double lr_;

 private:
  std::unordered_map<std::string, size_t> param_index_;  // name -> position in params_
  // Step counts live on the host (reading one back from a GPU is a sync per parameter);
  // state_ holds a placeholder under "<param>.step" to keep torch's key order.
  std::vector<int64_t> steps_;
  StateDict state_;
};

}  // namespace moegrad::nn
