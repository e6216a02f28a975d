#pragma once
// In-place initialisers with torch.nn.init's formulas, drawing from an explicit Generator.
#include "moegrad/core/generator.h"
#include "moegrad/core/tensor.h"

namespace moegrad::nn::init {

enum class FanMode { fan_in, fan_out };

// (fan_in, fan_out) of a weight shaped (out, in, *kernel), as torch computes them.
std::pair<int64_t, int64_t> fans(const Tensor& w);

void uniform_(const Tensor& t, double low, double high, Generator& gen);
void normal_(const Tensor& t, double mean, double std, Generator& gen);
void constant_(const Tensor& t, double value);
// gain sqrt(2 / (1 + a^2)) (leaky_relu with slope a; a = 0 is relu).
void kaiming_uniform_(const Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::fan_in);
void kaiming_normal_(const Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::fan_in);
void xavier_uniform_(const Tensor& t, Generator& gen, double gain = 1.0);
void xavier_normal_(const Tensor& t, Generator& gen, double gain = 1.0);

}  // namespace moegrad::nn::init
