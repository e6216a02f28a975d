#include "moegrad/train/optimizer_kind.h"

#include "moegrad/core/registry.h"
#include "moegrad/nn/optim/adam.h"
#include "moegrad/nn/optim/sgd.h"

namespace moegrad::train {

namespace {

nn::AdamOptions adam_options(const OptimConfig& o) {
  return {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay};
}

std::vector<OptimizerSpec> builtins() {
  return {
      {.name = "sgd",
       .doc = "torch.optim.SGD: `momentum`, `nesterov`, `weight_decay` added to the gradient",
       .keys = {},
       .build = [](const nn::NamedTensors& params, const Config& c) -> std::unique_ptr<nn::Optimizer> {
         const OptimConfig& o = c.optim;
         return std::make_unique<nn::SGD>(params, nn::SGDOptions{.lr = o.lr, .momentum = o.momentum,
                                                                 .weight_decay = o.weight_decay,
                                                                 .nesterov = o.nesterov});
       },
       .states_per_parameter = 1,
       .validate = [](const Config& c) -> std::optional<KeyProblem> {
         if (c.optim.nesterov && !(c.optim.momentum > 0))
           return KeyProblem{"optim.nesterov", "needs optim.momentum > 0", {"optim.momentum"}};
         return std::nullopt;
       }},
      {.name = "adam",
       .doc = "torch.optim.Adam: `betas`, `eps`, `weight_decay` added to the gradient",
       .keys = {},
       .build = [](const nn::NamedTensors& params, const Config& c) -> std::unique_ptr<nn::Optimizer> {
         return std::make_unique<nn::Adam>(params, adam_options(c.optim));
       },
       .states_per_parameter = 2,
       .validate = nullptr},
      {.name = "adamw",
       .doc = "torch.optim.AdamW: `betas`, `eps`, decoupled `weight_decay`",
       .keys = {},
       .build = [](const nn::NamedTensors& params, const Config& c) -> std::unique_ptr<nn::Optimizer> {
         return std::make_unique<nn::AdamW>(params, adam_options(c.optim));
       },
       .states_per_parameter = 2,
       .validate = nullptr},
  };
}

Registry<OptimizerSpec>& registry() {
  // Never destroyed: configs may be read while statics unwind.
  static auto* r = new Registry<OptimizerSpec>("optimizer", builtins());
  return *r;
}

}  // namespace

void register_optimizer(OptimizerSpec spec) {
  MOEGRAD_CHECK(!spec.name.empty() && spec.build, "register_optimizer: '", spec.name, "' needs a name and build");
  scope_keys(spec.keys, spec.name, [](const Config& c) { return c.optim.name; });
  registry().add(std::move(spec));
}

const OptimizerSpec& find_optimizer(const std::string& name) { return registry().find(name, "name"); }

std::vector<std::string> optimizer_names() { return registry().names(); }

int64_t optim_int(const Config& c, const std::string& name) {
  return own_int(find_optimizer(c.optim.name).keys, c.optim.name, c, name);
}
double optim_real(const Config& c, const std::string& name) {
  return own_real(find_optimizer(c.optim.name).keys, c.optim.name, c, name);
}
bool optim_bool(const Config& c, const std::string& name) {
  return own_bool(find_optimizer(c.optim.name).keys, c.optim.name, c, name);
}

}  // namespace moegrad::train
