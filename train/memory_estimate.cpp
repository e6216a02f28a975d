#include "moegrad/train/memory_estimate.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>

#include "moegrad/core/memory_budget.h"
#include "moegrad/moe/size_estimate.h"
#include "moegrad/train/cluster_task.h"

namespace moegrad::train {

namespace {
constexpr double kFloatBytes = 4;   // the trainer's f32 parameters and activations
constexpr double kIndexBytes = 8;   // int64 ids and labels
constexpr double kByteVocab = 256;  // char_lm's vocabulary is at most the 256 bytes

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

  // mlp_*: in_proj Linear(input_dim, dim), the final RMSNorm(dim), head Linear(dim, output_dim).
  const double frame = static_cast<double>(d.input_dim + d.output_dim + 2) * dim + static_cast<double>(d.output_dim);
  double params = 0, activations = 0;
  switch (m.kind) {
    case ModelKind::mlp_moe: {
      const moe::SparseMoEBlockOptions block = m.block();
      params = frame + depth * moe::block_parameter_count(block);
      activations = depth * moe::block_activation_count(block, 1, batch);
      break;
    }
    case ModelKind::mlp_dense: {
      const moe::ExpertOptions ff = m.dense_feedforward();
      params = frame + depth * moe::expert_parameter_count(ff);
      activations = depth * moe::expert_activation_count(ff, batch);
      break;
    }
    case ModelKind::moe_lm: {
      const moe::SparseMoEBlockOptions block = m.block();
      const double seq = static_cast<double>(d.seq_len), heads = static_cast<double>(m.heads);
      params = (2 * kByteVocab + static_cast<double>(m.context) + 1) * dim +
               depth * (moe::block_parameter_count(block) + 4 * dim * dim + dim);
      activations = depth * (moe::block_activation_count(block, batch, seq) + batch * seq * 8 * dim +
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
