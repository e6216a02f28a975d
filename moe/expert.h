#pragma once
// The feedforward experts of st-moe-pytorch, of any registered kind.
#include <memory>
#include <string>

#include "moegrad/core/generator.h"
#include "moegrad/core/option_fields.h"
#include "moegrad/nn/container.h"

namespace moegrad::moe {

struct ExpertOptions {
  int64_t dim = 0;
  double hidden_mult = 4.0;
  bool mult_bias = true;  // geglu only
  bool prenorm = false;
  std::string kind = "geglu";  // a registered expert kind (moe/expert_kind.h)
  static const OptionFields<ExpertOptions>& fields();
  void validate() const;
  // The kind's hidden width: int(dim * hidden_mult * 2 / 3) for geglu, as Python computes it.
  int64_t hidden() const;
};

// [RMSNorm(dim)] then the layers of its kind (moe/expert_kind.h), named net.<i>: by default
// Linear(dim, 2h) -> GEGLU(h) -> Linear(h, dim). Linear weights and biases ~ U(-out^-0.5,
// out^-0.5). `net` may be replaced (expert.net = other): the module's names follow it.
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
