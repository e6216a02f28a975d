#pragma once
// Reductions over any set of axes (empty = all), and the along-one-axis ops.
#include <utility>

#include "moegrad/core/tensor.h"

namespace moegrad::core {

// bool and int64 sums are int64; float sums keep the dtype (accumulated in double).
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor amax(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
// Stable: max + log(sum(exp(x - max))).
Tensor logsumexp(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
// Index (int64) of the first maximum along axis.
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t axis, bool keepdim = false);

Tensor softmax(const Tensor& x, int64_t axis);
Tensor log_softmax(const Tensor& x, int64_t axis);
// Inclusive: out[i] = x[0] + ... + x[i]; exclusive: x[0] + ... + x[i-1].
Tensor cumsum(const Tensor& x, int64_t axis, bool exclusive = false);
// The k largest along axis, descending, ties to the lower index: (values, int64 indices).
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t axis = -1);

}  // namespace moegrad::core
