#include "moegrad/nn/init.h"

#include <cmath>

#include "moegrad/autograd/grad_mode.h"
#include "moegrad/core/core.h"

namespace moegrad::nn::init {

std::pair<int64_t, int64_t> fans(const Tensor& w) {
  MOEGRAD_CHECK(w.dim() >= 2, "init: fan in and fan out need a tensor of at least 2 dims, got shape ",
                w.shape());
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.shape()[d];
  return {w.shape()[1] * receptive, w.shape()[0] * receptive};
}

void uniform_(const Tensor& t, double low, double high, Generator& gen) {
  core::copy_(t, uniform(t.shape(), low, high, gen, t.dtype(), t.backend()));
}

void normal_(const Tensor& t, double mean, double std, Generator& gen) {
  core::copy_(t, normal(t.shape(), mean, std, gen, t.dtype(), t.backend()));
}

void constant_(const Tensor& t, double value) { core::fill_(t, value); }

namespace {
double kaiming_std(const Tensor& t, double a, FanMode mode) {
  auto [fan_in, fan_out] = fans(t);
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  return gain / std::sqrt(static_cast<double>(mode == FanMode::fan_in ? fan_in : fan_out));
}
double xavier_std(const Tensor& t, double gain) {
  auto [fan_in, fan_out] = fans(t);
  return gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
}
}  // namespace

// Uniform(-b, b) has std b / sqrt(3).
void kaiming_uniform_(const Tensor& t, Generator& gen, double a, FanMode mode) {
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode);
  uniform_(t, -bound, bound, gen);
}
void kaiming_normal_(const Tensor& t, Generator& gen, double a, FanMode mode) {
  normal_(t, 0.0, kaiming_std(t, a, mode), gen);
}
void xavier_uniform_(const Tensor& t, Generator& gen, double gain) {
  const double bound = std::sqrt(3.0) * xavier_std(t, gain);
  uniform_(t, -bound, bound, gen);
}
void xavier_normal_(const Tensor& t, Generator& gen, double gain) {
  normal_(t, 0.0, xavier_std(t, gain), gen);
}

}  // namespace moegrad::nn::init
