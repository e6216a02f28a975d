#include "train/memory_estimate.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>

#include "core/memory_budget.h"
#include "train/cluster_task.h"

namespace moegrad::train {

namespace {
constexpr double kFloatBytes = 4;   // the trainer's f32 parameters and activations
constexpr double kIndexBytes = 8;   // int64 ids and labels
constexpr double kByteVocab = 256;  // char_lm's vocabulary is at most the 256 bytes

// Expert(dim, mult): Linear(dim, 2h) + GEGLU(h) + Linear(h, dim), h = dim * mult * 2 / 3.
double expert_parameters(double dim, double mult) {
  const double h = std::floor(dim * mult * 2.0 / 3.0);
  return dim * 2 * h + 2 * h + h + h * dim + 2 * dim;
}

double moe_layer_parameters(const ModelConfig& m) {
  const double dim = static_cast<double>(m.dim), e = static_cast<double>(m.num_experts);
  double p = e * expert_parameters(dim, m.expert_hidden_mult) + dim * e + dim;
  if (m.add_ff_before) p += expert_parameters(dim, 4.0);
  if (m.add_ff_after) p += expert_parameters(dim, 4.0);
  if (m.router) {
    double in = dim;
    auto layer = [&](double w) { p += in * w + w; in = w; };
    if (auto* w = std::get_if<std::vector<int64_t>>(&m.router->hidden_layers))
      for (int64_t x : *w) layer(static_cast<double>(x));
    if (auto* n = std::get_if<int64_t>(&m.router->hidden_layers))
      for (int64_t i = 0; i < *n; ++i) layer(dim);
    p += in * e + e;
  }
  return p;
}

// Forward activations of one MoE layer over `groups` routing groups of n tokens.
double moe_layer_activations(const ModelConfig& m, double groups, double n) {
  const double dim = static_cast<double>(m.dim), e = static_cast<double>(m.num_experts);
  const double h = std::floor(dim * m.expert_hidden_mult * 2.0 / 3.0);
  const double factor = std::max(m.capacity_factor_train, m.capacity_factor_eval);
  const double capacity = std::max(std::min(n, std::floor(n * factor / e)), 4.0);
  const double slots = groups * e * capacity;
  double a = groups * n * (8 * dim + 4 * e) + slots * (2 * dim + 7 * h);
  if (m.dispatch == moe::Dispatch::dense) a += 2 * groups * n * e * capacity;
  return a;
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
  const double dim = static_cast<double>(m.dim), depth = static_cast<double>(m.depth);
  const double batch = static_cast<double>(c.train.batch_size);
  MemoryEstimate est;

  double params = 0, activations = 0;
  switch (m.kind) {
    case ModelKind::mlp_moe:
      params = static_cast<double>(d.input_dim + d.output_dim + 2) * dim + depth * moe_layer_parameters(m);
      activations = depth * moe_layer_activations(m, 1, batch);
      break;
    case ModelKind::mlp_dense:
      params = static_cast<double>(d.input_dim + d.output_dim + 2) * dim + depth * expert_parameters(dim, m.hidden_mult);
      activations = depth * batch * (8 * dim + 7 * std::floor(dim * m.hidden_mult * 2.0 / 3.0));
      break;
    case ModelKind::moe_lm: {
      const double seq = static_cast<double>(d.seq_len), heads = static_cast<double>(m.heads);
      params = (2 * kByteVocab + static_cast<double>(m.context) + 1) * dim +
               depth * (moe_layer_parameters(m) + 4 * dim * dim + 2 * dim);
      activations = depth * (moe_layer_activations(m, batch, seq) + batch * seq * 8 * dim +
                             3 * batch * heads * seq * seq) +
                    batch * seq * kByteVocab * 2;
      break;
    }
  }
  const double optimizer_states = c.optim.name == OptimizerKind::sgd ? 1 : 2;
  est.parameter_bytes = params * kFloatBytes * (2 + optimizer_states);
  est.activation_bytes = activations * kFloatBytes * kActivationFactor;

  std::string data_key;
  if (d.task == TaskKind::clusters) {
    // Generation works in f64 and gathers each sample's target map (ClusterTask).
    const double n = static_cast<double>(std::max(d.train_size, d.eval_size));
    const double in = static_cast<double>(d.input_dim), out = static_cast<double>(d.output_dim);
    const double kept = static_cast<double>(d.train_size + d.eval_size) * ((in + out) * kFloatBytes + kIndexBytes);
    const double temporaries = n * 8 * (in * ClusterTask::kTargetHidden + ClusterTask::kTargetHidden * out + 3 * in + 2 * out);
    est.data_bytes = kept + temporaries;
    data_key = d.train_size >= d.eval_size ? "data.train_size" : "data.eval_size";
  } else {
    double chars = static_cast<double>(d.corpus_chars);
    data_key = "data.corpus_chars";
    struct stat st {};
    if (!d.path.empty()) {
      chars = ::stat(d.path.c_str(), &st) == 0 ? static_cast<double>(st.st_size) : 0;
      data_key = "data.path";
    }
    est.data_bytes = chars * (2 + 2 * kIndexBytes);  // the text and a copy, the ids and their splits
  }

  // The model key that most exceeds its default, as the one to blame for the parameters.
  const ModelConfig defaults;
  std::string model_key = "model.dim";
  double worst = dim / static_cast<double>(defaults.dim);
  auto consider = [&](const char* key, double v, double def) {
    if (v / def > worst) worst = v / def, model_key = key;
  };
  consider("model.num_experts", static_cast<double>(m.num_experts), static_cast<double>(defaults.num_experts));
  consider("model.depth", depth, static_cast<double>(defaults.depth));
  if (m.kind == ModelKind::moe_lm) consider("model.context", static_cast<double>(m.context), static_cast<double>(defaults.context));
  if (m.kind == ModelKind::mlp_dense) consider("model.hidden_mult", m.hidden_mult, defaults.hidden_mult);
  else consider("model.expert_hidden_mult", m.expert_hidden_mult, defaults.expert_hidden_mult);

  const double top = std::max({est.parameter_bytes, est.data_bytes, est.activation_bytes});
  est.dominating_key = top == est.parameter_bytes ? model_key
                       : top == est.data_bytes    ? data_key
                       : m.kind == ModelKind::moe_lm && d.seq_len > c.train.batch_size ? "data.seq_len"
                                                                                         : "train.batch_size";
  return est;
}

}  // namespace moegrad::train
