#pragma once
// The user-facing gradient API on tensors (torch names where they exist).
#include "moegrad/autograd/grad_mode.h"
#include "moegrad/autograd/node.h"
#include "moegrad/core/tensor.h"

namespace moegrad {

bool requires_grad(const Tensor& t);
// Marks a leaf as requiring grad and returns it, for chaining:
//   Tensor w = requires_grad_(randn({3, 4}, gen, DType::f64));
Tensor requires_grad_(const Tensor& t, bool on = true);
bool is_leaf(const Tensor& t);
// The accumulated gradient, undefined if none has been computed.
Tensor grad(const Tensor& t);
void set_grad(const Tensor& t, const Tensor& g);
void zero_grad(const Tensor& t);  // drops the gradient (torch's set_to_none=True)

// Keeps the gradient of a non-leaf in grad(t) after backward.
void retain_grad(const Tensor& t);
// Runs `hook` on t's gradient when it is computed; it may return a replacement.
void register_hook(const Tensor& t, GradHook hook);
// The same data, cut from the graph.
Tensor detach(const Tensor& t);
// Name of the op that produced t ("" for leaves and tensors outside the graph).
std::string grad_fn_name(const Tensor& t);

// Reverse-mode sweep from `root`. Without `grad_root`, root must have one element and its
// gradient is 1. Gradients accumulate into the leaves' grad().
void backward(const Tensor& root, const Tensor& grad_root = Tensor());

}  // namespace moegrad
