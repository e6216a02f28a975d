#pragma once
// Differentiable reductions (over any set of axes; empty = all) and along-axis ops.
#include <utility>

#include "moegrad/core/tensor.h"

namespace moegrad {

Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
// Max/min over axes; ties share the gradient evenly (torch.amax).
Tensor amax(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
// Max along one axis with its int64 index; the gradient goes to that index (torch.max(dim)).
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t axis, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
// Euclidean norm over axes; its gradient at a zero vector is 0 (torch's subgradient).
Tensor norm(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor softmax(const Tensor& x, int64_t axis);
Tensor log_softmax(const Tensor& x, int64_t axis);
Tensor cumsum(const Tensor& x, int64_t axis, bool exclusive = false);
// (values, int64 indices), descending, ties to the lower index; gradient to the values.
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t axis = -1);

}  // namespace moegrad
