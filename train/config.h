#pragma once
// The training configuration: one YAML schema (documented in configs/README.md), read
// into these structs with every key validated before any work starts.
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "moegrad/moe/moe.h"

namespace moegrad::train {


// Values of the keys a registered kind declares for itself (model_kind.h's int_param ...).
using KindParams = std::map<std::string, std::variant<int64_t, double, bool>>;

struct ModelConfig {
  std::string kind = "mlp_moe";  // a registered model kind (train/model_kind.h)
  int64_t dim = 32;    // model width
  int64_t depth = 2;   // residual blocks
  // mlp_dense: width of each dense feedforward, as Expert's hidden_mult.
  double hidden_mult = 4.0;
  // The MoE layers (the kinds with moe): SparseMoEBlock's own options (moe/moe.h), under
  // the same names in YAML; their dim is model.dim. The defaults are toy-sized: 8 experts
  // of hidden_mult 2, no dense feedforward after the MoE. moe.expert_kind also makes the
  // dense feedforwards of mlp_dense.
  moe::SparseMoEBlockOptions moe_block = toy_block();
  // Gumbel noise on the gate logits in training (a forward call's option, not a module's).
  bool noise_gates = false;
  double noise_mult = 1.0;
  // moe_lm
  int64_t heads = 4;
  int64_t context = 64;
  KindParams params;  // the kind's own keys

  // moe_block with its dim.
  moe::SparseMoEBlockOptions block() const;
  static moe::SparseMoEBlockOptions toy_block();
  // Each block of mlp_dense.
  moe::ExpertOptions dense_feedforward() const;
};

struct DataConfig {
  std::string task = "clusters";  // a registered task (train/task_kind.h)
  // clusters
  int64_t num_clusters = 8;
  int64_t input_dim = 16;
  int64_t output_dim = 16;
  double cluster_std = 0.5;
  int64_t train_size = 8192;
  int64_t eval_size = 1024;
  // char_lm
  std::string path;  // empty: the built-in generated corpus
  int64_t corpus_chars = 200000;
  int64_t seq_len = 64;
  KindParams params;  // a registered task's own keys
};

// optim.schedule: the learning rate over the steps (train/schedule_kind.h).
struct ScheduleConfig {
  std::string kind = "constant";  // a registered schedule
  int64_t warmup_steps = 0;       // warmup_cosine
  double min_lr = 0.0;            // warmup_cosine
  int64_t step_size = 1;          // step
  double gamma = 0.1;             // step
  KindParams params;              // a registered schedule's own keys
};

struct OptimConfig {
  std::string name = "adamw";  // a registered optimizer (train/optimizer_kind.h)
  double lr = 3e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
  double clip_norm = 1.0;  // 0: no clipping
  ScheduleConfig schedule;
  KindParams params;        // the optimizer's own keys
};

struct LoopConfig {
  int64_t steps = 600;
  int64_t batch_size = 64;
  int64_t eval_interval = 100;
  int64_t eval_batches = 8;
  int64_t log_interval = 20;
  int64_t checkpoint_interval = 200;
  int64_t keep_last = 3;
};

// How a run under `mpirun -np W` splits its work (docs/distributed.md). The data-parallel
// size is the world size W; `expert` ranks share one copy of the experts (E/expert each).
// A layout, not a part of the model: a checkpoint resumes under any other.
struct ParallelConfig {
  int64_t expert = 1;
};

struct Config {
  uint64_t seed = 0;
  std::string device = "cpu";
  ModelConfig model;
  DataConfig data;
  OptimConfig optim;
  LoopConfig train;
  ParallelConfig parallel;
};

// A configuration problem, located: "FILE:LINE: key.path: message".
class ConfigFileError : public Error {
 public:
  ConfigFileError(const std::string& location, const std::string& key, const std::string& message)
      : Error(location + ": " + key + ": " + message) {}
};

// How a config is held to this machine. Only refusals a person may knowingly overrule are
// forced (today: a memory estimate above what is available, which errs high); a wrong key,
// type or range never is.
struct LoadOptions {
  // Each such refusal becomes a warning on `warnings` that says what was overruled.
  bool force = false;
  std::ostream* warnings = nullptr;  // null: std::cerr
};

// Reads `path`, applies "key.path=value" overrides (values in YAML syntax), validates.
// Throws ConfigFileError for any unknown key, wrong type, out-of-range value or
// inconsistent combination.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {},
                   const LoadOptions& options = {});
Config parse_config(const std::string& yaml_text, const std::string& source,
                    const std::vector<std::string>& overrides = {}, const LoadOptions& options = {});

// Every key with its resolved value, in schema order: what check-config prints and what a
// run saves as config.yaml (loading it gives the same Config).
std::string to_yaml(const Config& c);


}  // namespace moegrad::train
