#pragma once
// Differentiable fused ops: one kernel forward, one backward, same values as the composites.
#include "moegrad/core/tensor.h"

namespace moegrad {

// x (..., 2h) = [value | gate] -> gelu(gate) * value * mult_bias (..., h): exact (erf) gelu;
// mult_bias (h) may be an undefined Tensor (no scale).
Tensor geglu(const Tensor& x, const Tensor& mult_bias = Tensor());
// x * scale / max(||x||_2, eps) over the last dim (F.normalize(x, dim=-1) * scale).
Tensor rms_normalize(const Tensor& x, double eps, double scale);

}  // namespace moegrad
