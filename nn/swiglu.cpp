#include "moegrad/nn/swiglu.h"

#include "moegrad/autograd/autograd.h"
#include "moegrad/nn/activation.h"

namespace moegrad::nn {

SwiGLU::SwiGLU(int64_t d) : dim(d) { MOEGRAD_CHECK(d >= 1, "SwiGLU: dim must be >= 1, got ", d); }

Tensor SwiGLU::forward(const Tensor& x) {
  MOEGRAD_CHECK(x.dim() >= 1 && x.size(x.dim() - 1) == 2 * dim, "SwiGLU(", dim, "): input of shape ", x.shape(),
                " must end in 2 * dim = ", 2 * dim);
  const int64_t last = x.dim() - 1;
  return silu(narrow(x, last, dim, dim)) * narrow(x, last, 0, dim);
}

std::string SwiGLU::extra_repr() const { return str_cat("dim=", dim); }

}  // namespace moegrad::nn
