#pragma once
#include "moegrad/core/tensor.h"

namespace moegrad::nn {

enum class Reduction { mean, sum, none };

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

// logits (..., C), int64 class targets (...). Computed through log_softmax, so it is
// stable for any logit magnitude. Targets equal to ignore_index contribute nothing, and
// the mean is over the others (NaN when every target is ignored, as in torch).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index = -100,
                     Reduction reduction = Reduction::mean);

}  // namespace moegrad::nn
