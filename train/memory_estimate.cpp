#include "train/memory_estimate.h"

#include <algorithm>
#include <filesystem>

#include "core/memory_budget.h"
#include "train/config.h"

namespace moegrad::train {

namespace {

// Everything in double: the point is to refuse sizes whose int64 products would overflow.
constexpr double kF32 = 4, kF64 = 8;
// A parameter is held with its gradient and Adam's two moments.
constexpr double kCopiesPerParameter = 4;
// Saved forward values plus their gradients, per activation element.
constexpr double kActivationCopies = 4;

// Expert(dim, hidden_mult): Linear(d, 2h) -> GEGLU(h) -> Linear(h, d), h = d * mult * 2/3.
double expert_hidden(double dim, double mult) { return dim * mult * 2.0 / 3.0; }
double expert_params(double dim, double mult) {
  const double h = expert_hidden(dim, mult);
  return dim * 2 * h + 2 * h + h * dim + dim + h + dim;
}

}  // namespace

int64_t MemoryEstimate::total_bytes() const {
  const double total = parameter_bytes + data_bytes + activation_bytes;
  return total >= 9.2e18 ? INT64_MAX : static_cast<int64_t>(total);
}

std::string MemoryEstimate::describe() const {
  auto b = [](double v) { return format_bytes(v >= 9.2e18 ? INT64_MAX : static_cast<int64_t>(v)); };
  return "parameters and optimizer state " + b(parameter_bytes) + ", data " + b(data_bytes) + ", activations " +
         b(activation_bytes);
}

std::string MemoryEstimate::dominant_key() const {
  if (parameter_bytes >= data_bytes && parameter_bytes >= activation_bytes) return "model.dim";
  if (data_bytes >= activation_bytes) return data_key;
  return "train.batch_size";
}

MemoryEstimate estimate_memory(const Config& c) {
  const ModelConfig& m = c.model;
  const DataConfig& d = c.data;
  const double dim = static_cast<double>(m.dim), depth = static_cast<double>(m.depth);
  const double experts = static_cast<double>(m.num_experts), top_n = static_cast<double>(m.top_n);
  const bool lm = m.kind == ModelKind::moe_lm;
  // Tokens per row (the routing group) and rows per step.
  const double n = lm ? static_cast<double>(d.seq_len) : static_cast<double>(c.train.batch_size);
  const double rows = lm ? static_cast<double>(c.train.batch_size) : 1;
  const double tokens = n * rows;

  double params = 0, act = 0;
  const double ff = (m.add_ff_before ? 1 : 0) + (m.add_ff_after ? 1 : 0);
  if (m.kind == ModelKind::mlp_dense) {
    params = depth * expert_params(dim, m.hidden_mult);
    act = depth * tokens * (3 * expert_hidden(dim, m.hidden_mult) + dim);
  } else {
    const double h = expert_hidden(dim, m.expert_hidden_mult);
    const double moe_layer = experts * expert_params(dim, m.expert_hidden_mult) + dim * experts +
                             ff * expert_params(dim, 4.0) + dim;
    params = depth * moe_layer;
    // Routed copies through the experts, the router's (token, expert) tensors, and on the
    // dense path the (row, token, expert, capacity) dispatch and combine tensors.
    const double factor = std::max(m.capacity_factor_train, m.capacity_factor_eval);
    const double capacity = std::max(std::min(n, n * factor / experts), 4.0);
    double per_layer = tokens * top_n * (3 * h + 2 * dim) + tokens * experts * 8 +
                       ff * tokens * (3 * expert_hidden(dim, 4.0) + dim);
    if (m.dispatch == moe::Dispatch::dense) per_layer += 2 * rows * n * experts * capacity;
    act = depth * per_layer;
  }
  MemoryEstimate e;
  if (lm) {
    params += depth * (4 * dim * dim + dim) + static_cast<double>(m.context) * dim + 2 * 256 * dim;
    act += depth * (rows * static_cast<double>(m.heads) * n * n * 2 + tokens * dim * 6) + tokens * 256 * 2;
    double chars = static_cast<double>(d.corpus_chars);
    e.data_key = "data.corpus_chars";
    std::error_code ec;
    if (!d.path.empty()) {
      chars = static_cast<double>(std::filesystem::file_size(d.path, ec));
      if (ec) chars = 0;
      e.data_key = "data.path";
    }
    e.data_bytes = chars * (1 + kF64);  // the text and its int64 ids
  } else {
    params += static_cast<double>(d.input_dim) * dim + dim * static_cast<double>(d.output_dim) + dim +
              static_cast<double>(d.output_dim);
    act += tokens * (static_cast<double>(d.input_dim) + static_cast<double>(d.output_dim) + 2 * dim);
    // Generated in float64, kept in float32; each cluster has its own target map.
    const double samples = static_cast<double>(d.train_size) + static_cast<double>(d.eval_size);
    const double width = static_cast<double>(d.input_dim) + static_cast<double>(d.output_dim);
    e.data_bytes = samples * (width * (kF64 + kF32) + kF64) +
                   static_cast<double>(d.num_clusters) * (static_cast<double>(d.input_dim) + 32 * width) * kF64;
    e.data_key = d.train_size >= d.eval_size ? "data.train_size" : "data.eval_size";
  }
  e.parameter_bytes = params * kF32 * kCopiesPerParameter;
  e.activation_bytes = act * kF32 * kActivationCopies;
  return e;
}

}  // namespace moegrad::train
