#pragma once
// Optimizers, registered by name: `optim.name` picks one. moegrad ships sgd, adam and adamw
// (torch.optim's formulas, nn/optim/); a program registers its own before it runs the
// command line (train/cli.h), with keys of its own under `optim:` (int_param(...,
// ParamsOf::optim) and the like, read back with optim_int / optim_real / optim_bool).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "moegrad/nn/optim/optimizer.h"
#include "moegrad/train/config_schema.h"

namespace moegrad::train {

struct OptimizerSpec {
  std::string name;
  std::string doc;  // one line, for configs/README.md
  // Its own keys under optim:, applying to this optimizer only.
  std::vector<ConfigKey> keys;
  // The optimizer over the model's named parameters, at learning rate optim.lr (the
  // schedule sets it every step).
  std::function<std::unique_ptr<nn::Optimizer>(const nn::NamedTensors&, const Config&)> build;
  // State tensors it keeps per parameter, each parameter-sized: for the memory pre-check.
  double states_per_parameter = 2;
  // Rules between its keys (optional): the first one broken, or nothing.
  std::function<std::optional<KeyProblem>(const Config&)> validate;
};

// Adds an optimizer; name and build are required, and a name may be taken once.
void register_optimizer(OptimizerSpec spec);
// The optimizer of that name, or a ConfigError on key "name" listing the registered ones.
const OptimizerSpec& find_optimizer(const std::string& name);
std::vector<std::string> optimizer_names();

// The value of c's optimizer's own key `name` (its default when unset).
int64_t optim_int(const Config& c, const std::string& name);
double optim_real(const Config& c, const std::string& name);
bool optim_bool(const Config& c, const std::string& name);

}  // namespace moegrad::train
