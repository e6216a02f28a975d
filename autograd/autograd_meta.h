#pragma once
// What the autograd layer keeps on a tensor (core/ stores it without looking inside).
#include <memory>
#include <vector>

#include "moegrad/autograd/node.h"

namespace moegrad {

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;                        // accumulated on leaves and on retain_grad() tensors
  std::shared_ptr<Node> grad_fn;      // the op that made this tensor; null on leaves
  uint32_t output_nr = 0;             // which output of grad_fn this tensor is
  std::vector<GradHook> leaf_hooks;   // hooks of a leaf (non-leaf hooks live on grad_fn)
  std::weak_ptr<Node> accumulator;    // a leaf's AccumulateGrad, shared by all its uses
};

// The tensor's metadata, created on first use.
AutogradMeta& autograd_meta(const Tensor& t);

}  // namespace moegrad
