#include "moegrad/nn/geglu.h"

#include "moegrad/autograd/autograd.h"

namespace moegrad::nn {

GEGLU::GEGLU(int64_t d, bool with_mult_bias, DType dtype) : dim(d) {
  MOEGRAD_CHECK(d > 0, "GEGLU: dim must be positive, got ", d);
  if (with_mult_bias) {
    mult_bias = ones({d}, dtype);
    register_parameter("mult_bias", mult_bias);
  }
}

Tensor GEGLU::forward(const Tensor& x) {
  MOEGRAD_CHECK(x.dim() >= 1 && x.size(-1) == 2 * dim, "GEGLU: input of shape ", x.shape(),
                " must end in 2 * dim = ", 2 * dim);
  return geglu(x, mult_bias);  // fused: gelu(gate) * value * mult_bias in one pass
}

}  // namespace moegrad::nn
