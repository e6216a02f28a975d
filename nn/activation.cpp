#include "moegrad/nn/activation.h"

#include "moegrad/autograd/autograd.h"

namespace moegrad::nn {

Tensor silu(const Tensor& x) { return x * sigmoid(x); }
Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor GELU::forward(const Tensor& x) { return gelu(x); }
Tensor SiLU::forward(const Tensor& x) { return silu(x); }

}  // namespace moegrad::nn
