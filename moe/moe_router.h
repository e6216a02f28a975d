#pragma once
// MoERouter (zeta's, with its defects fixed): hidden layers make the logits, the mechanism
// turns them into per-token probabilities over experts (the last axis).
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "moegrad/core/generator.h"
#include "moegrad/core/option_fields.h"
#include "moegrad/nn/container.h"

namespace moegrad::moe {

enum class RouterMechanism { softmax, gumbel };

struct MoERouterOptions {
  int64_t dim = 0;
  int64_t num_experts = 0;
  // none: one Linear(dim, e); a list of widths: Linear/ReLU chain through them; a count N:
  // N hidden layers of width dim.
  std::variant<std::monostate, std::vector<int64_t>, int64_t> hidden_layers = std::monostate{};
  RouterMechanism mechanism = RouterMechanism::softmax;
  // Its fields but hidden_layers, whose three forms each format reads on its own.
  static const OptionFields<MoERouterOptions>& fields();
  void validate() const;  // throws ConfigError naming the argument
};

class MoERouter : public nn::Layer {
 public:
  MoERouter(const MoERouterOptions& opt, Generator& gen, DType dtype = DType::f32);
  std::string type_name() const override { return "MoERouter"; }

  Tensor logits(const Tensor& x);
  // softmax(logits) or hard straight-through gumbel-softmax with tau = 1.
  Tensor probabilities(const Tensor& logits, const Tensor& gumbel_noise = Tensor());
  // Gumbel noise comes from `gumbel_noise` when given (already -log(-log u)), else from the
  // generator passed to set_generator.
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  Tensor forward(const Tensor& x, const Tensor& gumbel_noise);
  void set_generator(Generator* gen) { gen_ = gen; }

  const MoERouterOptions options;
  std::shared_ptr<nn::Sequential> layers;

 private:
  Generator* gen_ = nullptr;
};

// Standard Gumbel draws -log(-log u), u ~ U(0, 1) kept away from 0 and 1.
Tensor gumbel_noise(const Shape& shape, Generator& gen, DType dtype, Backend& backend = cpu_backend());

}  // namespace moegrad::moe
