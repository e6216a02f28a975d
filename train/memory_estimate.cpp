#include "moegrad/train/memory_estimate.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>

#include "moegrad/core/memory_budget.h"
#include "moegrad/moe/size_estimate.h"
#include "moegrad/train/cluster_task.h"
#include "moegrad/train/config_schema.h"
#include "moegrad/train/model_kind.h"
#include "moegrad/train/optimizer_kind.h"
#include "moegrad/train/task_kind.h"

namespace moegrad::train {

namespace {
// The keys of the model section, each kind's own included.
std::vector<ConfigKey> model_keys() {
  for (const ConfigSection& s : config_schema().sections)
    if (s.name == "model") return s.keys;
  return {};
}

constexpr double kFloatBytes = 4;   // the trainer's f32 parameters and activations

// The key to blame for the activations. A capacity factor far above its default (a typo
// such as 100000) gives every expert room for its whole group: it is named when bringing it
// back to its default would more than halve the activations. Else the batch's larger side.
std::string activation_key(const Config& c, const ModelKindSpec& kind, double activations) {
  if (kind.moe) {
    const moe::MoEOptions& m = c.model.moe_block.moe;
    const moe::MoEOptions usual_moe = Config().model.moe_block.moe;
    Config usual = c;
    moe::MoEOptions& u = usual.model.moe_block.moe;
    u.capacity_factor_train = std::min(m.capacity_factor_train, usual_moe.capacity_factor_train);
    u.capacity_factor_eval = std::min(m.capacity_factor_eval, usual_moe.capacity_factor_eval);
    if (kind.activation_count(usual) < activations / 2)
      return m.capacity_factor_train / usual_moe.capacity_factor_train >=
                     m.capacity_factor_eval / usual_moe.capacity_factor_eval
                 ? "model.capacity_factor_train"
                 : "model.capacity_factor_eval";
  }
  return c.data.task == "char_lm" && c.data.seq_len > c.train.batch_size ? "data.seq_len" : "train.batch_size";
}

}  // namespace

int64_t MemoryEstimate::total_bytes() const {
  const double t = parameter_bytes + data_bytes + activation_bytes;
  return t >= 9.0e18 ? INT64_MAX : static_cast<int64_t>(t);
}

std::string MemoryEstimate::breakdown() const {
  auto b = [](double v) { return format_bytes(v >= 9.0e18 ? INT64_MAX : static_cast<int64_t>(v)); };
  return "parameters with gradients and optimizer state " + b(parameter_bytes) + ", data " + b(data_bytes) +
         ", activations " + b(activation_bytes);
}

MemoryEstimate estimate_memory(const Config& c) {
  const ModelConfig& m = c.model;
  const DataConfig& d = c.data;
  const double dim = static_cast<double>(m.dim);
  MemoryEstimate est;

  const ModelKindSpec& kind = find_model_kind(m.kind);
  const double params = kind.parameter_count(c), activations = kind.activation_count(c);
  const double optimizer_states = find_optimizer(c.optim.name).states_per_parameter;
  est.parameter_bytes = params * kFloatBytes * (2 + optimizer_states);
  est.activation_bytes = activations * kFloatBytes * kActivationFactor;

  const TaskSpec& task = find_task(d.task);
  est.data_bytes = task.data_bytes(c);
  const std::string data_key = task.data_key(c);

  // The model key that most exceeds its default, as the one to blame for the parameters.
  const Config defaults;
  std::string model_key = "model.dim";
  double worst = dim / static_cast<double>(defaults.model.dim);
  const std::vector<ConfigKey> keys = model_keys();  // the schema is built anew on each call
  auto consider = [&](const std::string& key) {
    for (const ConfigKey& k : keys) {
      if (k.name != key) continue;
      double v = 0, def = 1;
      if (const auto* i = std::get_if<IntKey>(&k.type)) v = static_cast<double>(i->get(c)), def = static_cast<double>(i->get(defaults));
      if (const auto* r = std::get_if<RealKey>(&k.type)) v = r->get(c), def = r->get(defaults);
      if (def > 0 && v / def > worst) worst = v / def, model_key = "model." + key;
    }
  };
  consider("depth");
  if (kind.moe) {
    consider("num_experts");
    consider("expert_hidden_mult");
  }
  for (const std::string& key : kind.size_keys) consider(key);

  const double top = std::max({est.parameter_bytes, est.data_bytes, est.activation_bytes});
  est.dominating_key = top == est.parameter_bytes ? model_key
                       : top == est.data_bytes    ? data_key
                                                  : activation_key(c, kind, activations);
  return est;
}

}  // namespace moegrad::train
