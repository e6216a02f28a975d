#pragma once
// relu(x)^2, the activation of So et al., "Primer" (arXiv 2109.08668): a differentiable
// op, a layer on it, and an expert kind "squared_relu" built from the layer.
#include "moegrad/autograd/autograd.h"
#include "moegrad/moe/expert_kind.h"
#include "moegrad/nn/module.h"

namespace custom {

// The op: y = relu(x)^2, dy/dx = 2 relu(x).
moegrad::Tensor squared_relu(const moegrad::Tensor& x);

class SquaredReLU : public moegrad::nn::Layer {
 public:
  moegrad::Tensor forward(const moegrad::Tensor& x) override { return squared_relu(x); }
  std::string type_name() const override { return "SquaredReLU"; }
};

// Linear(d, h) -> SquaredReLU -> Linear(h, d), h = int(d * hidden_mult).
moegrad::moe::ExpertKind squared_relu_expert();

}  // namespace custom
