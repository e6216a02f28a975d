#pragma once
// The training config's schema, declared once: every key with its type, range, default
// (the Config struct's own), one line of doc, and the kinds it applies to. The YAML reader
// and its type and range errors (config_loader.cpp), the resolved-config writer and
// check-config (config_writer.cpp), and the key tables of configs/README.md
// (config_docs.cpp, `moegrad config-docs`) all walk these declarations. Rules between keys
// (top_n <= num_experts, ...) are the loader's validation.
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "moegrad/core/option_fields.h"
#include "moegrad/train/config.h"

namespace moegrad::train {

// The kinds of key. Each reads and writes its value through get/set on a Config.
struct IntKey {
  IntRange range;
  std::function<int64_t(const Config&)> get;
  std::function<void(Config&, int64_t)> set;
};
struct RealKey {
  RealRange range;
  std::function<double(const Config&)> get;
  std::function<void(Config&, double)> set;
};
struct BoolKey {
  std::function<bool(const Config&)> get;
  std::function<void(Config&, bool)> set;
};
// Free text; with `null_is_empty`, YAML null stands for "" both ways (data.path).
struct TextKey {
  bool null_is_empty = false;
  std::function<std::string(const Config&)> get;
  std::function<void(Config&, const std::string&)> set;
  std::function<std::string()> values;  // for the docs; null: "text"
};
// One name of a fixed list (the enums).
struct ChoiceKey {
  std::vector<std::string> names;
  std::function<std::string(const Config&)> get;
  std::function<void(Config&, const std::string&)> set;
};
// model.threshold_train / threshold_eval: a number, or a list of top_n - 1.
struct ThresholdKey {
  std::function<moe::Threshold(const Config&)> get;
  std::function<void(Config&, const moe::Threshold&)> set;
};
// optim.betas: [beta1, beta2].
struct BetasKey {};
// model.router: null, or {hidden_layers: null, a count of layers as wide as dim, or a list
// of widths; mechanism: softmax or gumbel}.
struct RouterKey {
  IntRange widths{1, int64_t{1} << 16};
  int64_t max_layers = 64;
};

using KeyType = std::variant<IntKey, RealKey, BoolKey, TextKey, ChoiceKey, ThresholdKey, BetasKey, RouterKey>;

struct ConfigKey {
  std::string name;
  std::string doc;
  KeyType type;
  // Whether the key means anything for this config's kinds; the writer leaves out those
  // that do not (they are still read and range-checked). Null: every config.
  std::function<bool(const Config&)> applies;
};

struct ConfigSection {
  std::string name;  // "" for the top level
  std::string title;  // the docs' heading
  std::vector<ConfigKey> keys;
  std::vector<ConfigSection> sections;  // nested after the keys (optim.schedule)
  // Names a user may write for a key under another name (an earlier moegrad's, or the
  // reference's): old name -> the key's name. Giving one is an error naming the key.
  std::vector<std::pair<std::string, std::string>> renamed;
};

// A rule between keys broken: the key to blame (its full path, "model.heads"), what is
// wrong, and the keys it was compared with ("model.dim"), so that a --set of those is named.
struct KeyProblem {
  std::string key;
  std::string message;
  std::vector<std::string> related;
};

// Keys a registered kind declares for itself, kept in the KindParams of its section:
// ModelConfig::params for a model kind, DataConfig::params for a task, OptimConfig::params
// for an optimizer,
// ScheduleConfig::params for a learning-rate schedule.
enum class ParamsOf { model, data, optim, schedule };
KindParams& params_of(Config& c, ParamsOf section);
ConfigKey int_param(std::string name, std::string doc, IntRange range, int64_t default_value,
                    ParamsOf section = ParamsOf::model);
ConfigKey real_param(std::string name, std::string doc, RealRange range, double default_value,
                     ParamsOf section = ParamsOf::model);
ConfigKey bool_param(std::string name, std::string doc, bool default_value, ParamsOf section = ParamsOf::model);

// A registered kind's own keys apply to the configs that chose it: `chosen` reads the
// name a config chose (c.model.kind, c.data.task, ...).
void scope_keys(std::vector<ConfigKey>& keys, const std::string& kind, std::string (*chosen)(const Config&));
// The value on c of `name` among a kind's own keys (its default when unset); an Error
// naming `kind` when it declares no such key of that type.
int64_t own_int(const std::vector<ConfigKey>& keys, const std::string& kind, const Config& c, const std::string& name);
double own_real(const std::vector<ConfigKey>& keys, const std::string& kind, const Config& c, const std::string& name);
bool own_bool(const std::vector<ConfigKey>& keys, const std::string& kind, const Config& c, const std::string& name);

// The whole schema, top level first, with the keys of every model kind registered so far.
ConfigSection config_schema();

// The value of a key of a default Config as the writer writes it (the docs' default).
std::string default_text(const ConfigKey& key);
// What values a key takes, for the docs: its range, choices or shape.
std::string values_text(const ConfigKey& key);

}  // namespace moegrad::train
