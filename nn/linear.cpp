#include "moegrad/nn/linear.h"

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/nn/init.h"

namespace moegrad::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator& gen, DType dtype)
    : in_features(in), out_features(out) {
  MOEGRAD_CHECK(in > 0 && out > 0, "Linear: in_features and out_features must be positive, got ",
                in, " and ", out);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight = uniform({out, in}, -bound, bound, gen, dtype);
  register_parameter("weight", weight);
  if (with_bias) {
    bias = uniform({out}, -bound, bound, gen, dtype);
    register_parameter("bias", bias);
  }
}

Tensor Linear::forward(const Tensor& x) {
  MOEGRAD_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear: input of shape ", x.shape(),
                " does not end in in_features=", in_features);
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return str_cat("in_features=", in_features, ", out_features=", out_features,
                 ", bias=", bias.defined() ? "True" : "False");
}

}  // namespace moegrad::nn
