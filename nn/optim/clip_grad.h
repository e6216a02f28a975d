#pragma once
#include "moegrad/core/tensor.h"

namespace moegrad::nn {

// torch.nn.utils.clip_grad_norm_: scales every gradient by min(1, max_norm / (norm + 1e-6))
// where norm is the 2-norm of all gradients together; returns that norm (before clipping).
// Parameters without a gradient are ignored.
double clip_grad_norm_(const TensorList& params, double max_norm);
// Its scaling alone, given the norm (computed elsewhere, e.g. over several processes).
void scale_gradients_to_norm_(const TensorList& params, double norm, double max_norm);

}  // namespace moegrad::nn
