#pragma once
// Front-ends of the backend's fused kernels: shape checks, contiguity, allocation.
#include <utility>

#include "moegrad/core/backend.h"
#include "moegrad/core/tensor.h"

namespace moegrad::core {

// x (..., 2h) = [value | gate] -> (gelu(gate) * value * mult_bias, Phi(gate)), both (..., h);
// mult_bias (h) may be undefined (ones).
std::pair<Tensor, Tensor> geglu(const Tensor& x, const Tensor& mult_bias = Tensor());
// The gradients of x and, if with_mult_bias, of mult_bias (undefined otherwise).
std::pair<Tensor, Tensor> geglu_backward(const Tensor& x, const Tensor& cdf, const Tensor& mult_bias,
                                         const Tensor& grad_out, bool with_mult_bias);
// x * scale / max(||x||, eps) over the last dim, and 1 / max(||x||, eps) per row (..., 1).
std::pair<Tensor, Tensor> rms_norm(const Tensor& x, double eps, double scale);
Tensor rms_norm_backward(const Tensor& x, const Tensor& inv_norm, double eps, double scale, const Tensor& grad_out);
// In place on contiguous tensors of one dtype and shape; max_exp_avg_sq only with amsgrad.
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStep& step);

}  // namespace moegrad::core
