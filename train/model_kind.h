#pragma once
// Model kinds, registered by name: `model.kind` picks one. moegrad ships mlp_moe,
// mlp_dense (on the clusters task) and moe_lm (on char_lm). A program registers its own
// before it runs the command line (train/cli.h), with keys of its own under `model:`,
// which the reader checks, check-config prints and configs/README.md's tables list like
// moegrad's own:
//
//   register_model_kind({.name = "my_mlp", .doc = "...", .task = "clusters",
//                        .keys = {int_param("width", "hidden width", {1, 4096}, 64)},
//                        (read back as model_int(config, "width"))
//                        .build = [](const Config& c, int64_t, Generator& gen, DType dt) { ... },
//                        .parameter_count = ..., .activation_count = ...});
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "moegrad/train/config_schema.h"
#include "moegrad/train/model.h"

namespace moegrad::train {

// How a training batch reaches the MoE layers: each of `layers` routes `groups` groups of
// `tokens` tokens. Capacity is per group: an expert takes up to capacity tokens of each.
struct RoutingGroups {
  int64_t layers = 0;
  int64_t groups = 0;
  int64_t tokens = 0;
};

struct ModelKindSpec {
  std::string name;
  std::string doc;  // one line, for configs/README.md
  std::string task = "clusters";  // the data.task it trains on (task_kind.h)
  bool moe = false;  // whether the MoE keys (num_experts, top_n, ...) build its layers
  // Its own keys under model:, applying to this kind only (int_param and the like below).
  std::vector<ConfigKey> keys;
  // Builds the model on the host; `vocab` is the char_lm vocabulary size (0 otherwise).
  std::function<std::unique_ptr<TrainModel>(const Config&, int64_t vocab, Generator&, DType)> build;
  // For the memory pre-check, before anything is built: elements of its parameters, and of
  // one training step's forward activations.
  std::function<double(const Config&)> parameter_count;
  std::function<double(const Config&)> activation_count;
  // Rules between its keys (optional): the first one broken, or nothing.
  std::function<std::optional<KeyProblem>(const Config&)> validate;
  // Keys under model: that scale its parameters, besides dim, depth and the MoE ones: the
  // memory pre-check blames the one furthest above its default.
  std::vector<std::string> size_keys;
  // The kinds with moe: the routing groups of a training batch (check-config's capacities;
  // the built-in kinds' activation estimates use it too). Null: not declared, and
  // check-config prints no capacities.
  std::function<RoutingGroups(const Config&)> routing_groups;
  // Elements of the parameters one token passes through (its MoE layers' top_n experts, not
  // all of them), as TrainModel::active_parameters counts them on a built model. Null: all
  // of parameter_count (a dense model).
  std::function<double(const Config&)> active_parameter_count;
};

// Adds a kind; name, build and both counts are required, and a name may be taken once.
void register_model_kind(ModelKindSpec spec);
// The kind of that name, or a ConfigError on key "kind" listing the registered ones.
const ModelKindSpec& find_model_kind(const std::string& name);
std::vector<std::string> model_kind_names();

// c's kind's active_parameter_count, or its parameter_count when it declares none.
double active_parameter_count(const Config& c);

// The value of c's model kind's own key `name` (declared with int_param and the like of
// config_schema.h; its default when the config does not set it); an Error when the kind
// declares no such key of that type.
int64_t model_int(const Config& c, const std::string& name);
double model_real(const Config& c, const std::string& name);
bool model_bool(const Config& c, const std::string& name);

}  // namespace moegrad::train
