#pragma once
// The feedforward experts of st-moe-pytorch.
#include <memory>

#include "moegrad/core/generator.h"
#include "moegrad/nn/container.h"

namespace moegrad::moe {

struct ExpertOptions {
  int64_t dim = 0;
  double hidden_mult = 4.0;
  bool mult_bias = true;
  bool prenorm = false;
  void validate() const;
  // int(dim * hidden_mult * 2 / 3), as Python computes it.
  int64_t hidden() const;
};

// [RMSNorm(dim)] -> Linear(dim, 2h) -> GEGLU(h) -> Linear(h, dim), named net.<i> over the
// layers present. Linear weights and biases ~ U(-out^-0.5, out^-0.5).
class Expert : public nn::Layer {
 public:
  Expert(const ExpertOptions& opt, Generator& gen, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override { return net->forward(x); }
  std::string type_name() const override { return "Expert"; }

  const ExpertOptions options;
  std::shared_ptr<nn::Sequential> net;
};

// experts.<i>: input (e, ..., d), expert i applied to slice i.
class Experts : public nn::Module {
 public:
  Experts(int64_t num_experts, const ExpertOptions& opt, Generator& gen, DType dtype = DType::f32);
  Tensor forward(const Tensor& x);
  std::string type_name() const override { return "Experts"; }
  Expert& operator[](size_t i) const { return (*experts)[i]; }
  size_t size() const { return experts->size(); }

  std::shared_ptr<nn::ModuleList<Expert>> experts;
};

}  // namespace moegrad::moe
