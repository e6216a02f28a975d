// Config -> YAML with every key resolved, in schema order.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>

#include "moegrad/train/config.h"

namespace moegrad::train {

namespace {

// A number written in its shortest form that reads back exactly (0.2, not
// 0.20000000000000001): the fewest significant digits that round-trip.
struct Real {
  double v;
};
YAML::Emitter& operator<<(YAML::Emitter& out, Real r) {
  int digits = 1;
  for (; digits < 17; ++digits) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", digits, r.v);
    if (std::strtod(buf, nullptr) == r.v) break;
  }
  out.SetDoublePrecision(digits);
  return out << r.v;
}

void emit_threshold(YAML::Emitter& out, const moe::Threshold& t) {
  if (auto* list = std::get_if<std::vector<double>>(&t)) {
    out << YAML::Flow << YAML::BeginSeq;
    for (double v : *list) out << Real{v};
    out << YAML::EndSeq;
  } else {
    out << Real{std::get<double>(t)};
  }
}

const char* schedule_name(nn::LrScheduleKind k) {
  switch (k) {
    case nn::LrScheduleKind::constant: return "constant";
    case nn::LrScheduleKind::warmup_cosine: return "warmup_cosine";
    case nn::LrScheduleKind::step: return "step";
  }
  return "?";
}

}  // namespace

std::string to_yaml(const Config& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "seed" << YAML::Value << c.seed;
  out << YAML::Key << "device" << YAML::Value << c.device;

  const ModelConfig& m = c.model;
  out << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << model_kind_name(m.kind);
  out << YAML::Key << "dim" << YAML::Value << m.dim;
  out << YAML::Key << "depth" << YAML::Value << m.depth;
  out << YAML::Key << "hidden_mult" << YAML::Value << Real{m.hidden_mult};
  out << YAML::Key << "num_experts" << YAML::Value << m.num_experts;
  out << YAML::Key << "expert_hidden_mult" << YAML::Value << Real{m.expert_hidden_mult};
  out << YAML::Key << "expert_kind" << YAML::Value << m.expert_kind;
  out << YAML::Key << "top_n" << YAML::Value << m.top_n;
  out << YAML::Key << "threshold_train" << YAML::Value;
  emit_threshold(out, m.threshold_train);
  out << YAML::Key << "threshold_eval" << YAML::Value;
  emit_threshold(out, m.threshold_eval);
  out << YAML::Key << "capacity_factor_train" << YAML::Value << Real{m.capacity_factor_train};
  out << YAML::Key << "capacity_factor_eval" << YAML::Value << Real{m.capacity_factor_eval};
  out << YAML::Key << "straight_through_dispatch_tensor" << YAML::Value << m.straight_through_dispatch_tensor;
  out << YAML::Key << "differentiable_topk" << YAML::Value << m.differentiable_topk;
  out << YAML::Key << "noise_gates" << YAML::Value << m.noise_gates;
  out << YAML::Key << "noise_mult" << YAML::Value << Real{m.noise_mult};
  out << YAML::Key << "balance_loss_coef" << YAML::Value << Real{m.balance_loss_coef};
  out << YAML::Key << "router_z_loss_coef" << YAML::Value << Real{m.router_z_loss_coef};
  out << YAML::Key << "add_ff_before" << YAML::Value << m.add_ff_before;
  out << YAML::Key << "add_ff_after" << YAML::Value << m.add_ff_after;
  out << YAML::Key << "router" << YAML::Value;
  if (m.router) {
    out << YAML::BeginMap << YAML::Key << "hidden_layers" << YAML::Value;
    if (auto* w = std::get_if<std::vector<int64_t>>(&m.router->hidden_layers)) {
      out << YAML::Flow << YAML::BeginSeq;
      for (int64_t v : *w) out << v;
      out << YAML::EndSeq;
    } else if (auto* n = std::get_if<int64_t>(&m.router->hidden_layers)) {
      out << *n;
    } else {
      out << YAML::Null;
    }
    out << YAML::Key << "mechanism" << YAML::Value
        << (m.router->mechanism == moe::RouterMechanism::gumbel ? "gumbel" : "softmax") << YAML::EndMap;
  } else {
    out << YAML::Null;
  }
  out << YAML::Key << "dispatch" << YAML::Value << moe::dispatch_name(m.dispatch);
  out << YAML::Key << "heads" << YAML::Value << m.heads;
  out << YAML::Key << "context" << YAML::Value << m.context;
  out << YAML::EndMap;

  const DataConfig& d = c.data;
  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "task" << YAML::Value << task_kind_name(d.task);
  out << YAML::Key << "num_clusters" << YAML::Value << d.num_clusters;
  out << YAML::Key << "input_dim" << YAML::Value << d.input_dim;
  out << YAML::Key << "output_dim" << YAML::Value << d.output_dim;
  out << YAML::Key << "cluster_std" << YAML::Value << Real{d.cluster_std};
  out << YAML::Key << "train_size" << YAML::Value << d.train_size;
  out << YAML::Key << "eval_size" << YAML::Value << d.eval_size;
  out << YAML::Key << "path" << YAML::Value;
  if (d.path.empty()) out << YAML::Null;
  else out << d.path;
  out << YAML::Key << "corpus_chars" << YAML::Value << d.corpus_chars;
  out << YAML::Key << "seq_len" << YAML::Value << d.seq_len;
  out << YAML::EndMap;

  const OptimConfig& o = c.optim;
  out << YAML::Key << "optim" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << optimizer_name(o.name);
  out << YAML::Key << "lr" << YAML::Value << Real{o.lr};
  out << YAML::Key << "betas" << YAML::Value << YAML::Flow << YAML::BeginSeq << Real{o.beta1} << Real{o.beta2} << YAML::EndSeq;
  out << YAML::Key << "eps" << YAML::Value << Real{o.eps};
  out << YAML::Key << "weight_decay" << YAML::Value << Real{o.weight_decay};
  out << YAML::Key << "momentum" << YAML::Value << Real{o.momentum};
  out << YAML::Key << "nesterov" << YAML::Value << o.nesterov;
  out << YAML::Key << "clip_norm" << YAML::Value << Real{o.clip_norm};
  out << YAML::Key << "schedule" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << schedule_name(o.schedule.kind);
  out << YAML::Key << "warmup_steps" << YAML::Value << o.schedule.warmup_steps;
  out << YAML::Key << "min_lr" << YAML::Value << Real{o.schedule.min_lr};
  out << YAML::Key << "step_size" << YAML::Value << o.schedule.step_size;
  out << YAML::Key << "gamma" << YAML::Value << Real{o.schedule.gamma};
  out << YAML::EndMap << YAML::EndMap;

  const LoopConfig& t = c.train;
  out << YAML::Key << "train" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "steps" << YAML::Value << t.steps;
  out << YAML::Key << "batch_size" << YAML::Value << t.batch_size;
  out << YAML::Key << "eval_interval" << YAML::Value << t.eval_interval;
  out << YAML::Key << "eval_batches" << YAML::Value << t.eval_batches;
  out << YAML::Key << "log_interval" << YAML::Value << t.log_interval;
  out << YAML::Key << "checkpoint_interval" << YAML::Value << t.checkpoint_interval;
  out << YAML::Key << "keep_last" << YAML::Value << t.keep_last;
  out << YAML::EndMap;

  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace moegrad::train
