#pragma once
#include <cstdint>
#include <ostream>

namespace moegrad::train {

struct MlpDemoOptions {
  int64_t steps = 500;
  int64_t log_every = 50;
  uint64_t seed = 0;
  double lr = 0.05;
};

struct MlpDemoResult {
  double first_loss = 0;
  double final_loss = 0;
};

// A 2-layer MLP fit to a synthetic regression with plain SGD, written with the autograd
// API only: the end-to-end smoke test of tensors, ops, backward and the BLAS path.
MlpDemoResult run_mlp_demo(const MlpDemoOptions& opt, std::ostream& log);

}  // namespace moegrad::train
