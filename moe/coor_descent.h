#pragma once
// Differentiable top-k by coordinate descent (colt5-attention's coor_descent and topk):
// a soft k-hot mask whose every iteration stays in the autograd graph.
#include <optional>

#include "moegrad/core/tensor.h"

namespace moegrad::moe {

struct CoorDescentOptions {
  int64_t n_iters = 20;
  double eps = 0.1;
  std::optional<double> eps_init = std::nullopt;
  double eps_decay = 1.0;
  void validate() const;  // throws ConfigError naming the argument
};

// Along the last axis, k may be fractional:
//   a = 0; b = -s; eps_t = max(eps_init or eps, eps)
//   repeat n_iters: a = eps_t (log k - logsumexp((s + b) / eps_t)); b = -relu(s + a);
//                   eps_t = max(eps_t * eps_decay, eps)
//   return exp((s + a + b) / eps_t)
Tensor coor_descent(const Tensor& s, double k, const CoorDescentOptions& opt = {});

struct CoorDescentTopkOptions {
  int64_t k = 1;
  double coor_descent_k_ratio = 9.0 / 8.0;
  CoorDescentOptions descent;
  bool fused = false;  // no fused kernel on CPU; results are the same either way
  bool non_differentiable = false;
  void validate() const;
};

struct CoorDescentTopkResult {
  Tensor values;               // top-k of x * gates: x's values, gradient through the mask
  Tensor indices;              // int64
  Tensor coor_descent_values;  // the soft mask at the indices (undefined if non_differentiable)
  Tensor gates;                // mask + stop_grad(1 - mask) at the indices, value ~1
};

// colt5_attention.topk: coordinate descent with k' = min(k * ratio, last dim), then a hard
// top-k of x * (mask + stop_grad(1 - mask)).
CoorDescentTopkResult coor_descent_topk(const Tensor& x, const CoorDescentTopkOptions& opt);

}  // namespace moegrad::moe
