#pragma once
// `moegrad train` and `moegrad eval`: the training loop with evaluation, metrics,
// checkpoints and bit-exact resume.
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "moegrad/core/error.h"
#include "moegrad/train/checkpoint.h"
#include "moegrad/train/config.h"
#include "moegrad/train/grad_dump.h"
#include "moegrad/train/model.h"
#include "moegrad/train/routing_report.h"
#include "moegrad/train/task.h"

namespace moegrad::train {

// A loss or gradient became NaN or Inf: the run stops, its last good checkpoint stays.
class NumericalError : public Error {
 public:
  using Error::Error;
};

struct TrainArgs {
  std::string config_path;  // empty with `resume` of a run: the run's own config.yaml
  std::vector<std::string> overrides;  // key.path=value
  std::string out_dir;                 // empty: runs/<config name>-<time>
  // A run folder (continued from its newest checkpoint that loads, or from step 0 when it
  // has none), one of its checkpoints, or a checkpoint outside any run (continued in a new
  // folder: --out, or the default name).
  std::string resume;
  bool interactive = false;            // draw a progress bar
  GradDump dump_grads;                 // --dump-grads STEPS DIR
  bool force = false;                  // the config's LoadOptions::force
  // For tests of the stop under mpirun: rank `rank` sees a NaN main loss at step
  // `nan_loss_at` (0: never), as a diverging run would.
  struct Fault {
    int64_t nan_loss_at = 0;
    int rank = 0;
  } fault;
};

struct TrainSummary {
  std::string run_dir;
  std::string config_file, metrics_jsonl, metrics_csv, checkpoint_dir, last_checkpoint;
  int64_t steps = 0;
  double final_train_loss = 0;       // main + aux, what backward saw
  double final_train_main_loss = 0;  // the main loss alone, what eval measures
  nlohmann::json final_eval;
  // The run was already at (or past) train.steps: nothing trained, nothing written.
  bool nothing_to_do = false;
  // Rank 0 of an mpirun job (or the one process): the rank that wrote and prints.
  bool leader = true;
};

// A run writes only into its own folder, which it locks for its lifetime. Throws
// ConfigFileError (bad config or arguments, or the folder is in use: before anything is
// written), NumericalError (the last good checkpoint kept), Interrupted (SIGINT/SIGTERM: a
// checkpoint of the last finished step saved), or Error.
TrainSummary run_training(const TrainArgs& args, std::ostream& log);

// The config of a model whose weights came from `source` (the file as given by `option`,
// "--checkpoint X" or "--weights X"): with no config_path the one the file records (on the
// cpu unless overridden), an error when it records none; with a config_path that config,
// refused when its model or data differ from the recorded one.
Config weights_config(const std::string& config_path, const std::vector<std::string>& overrides,
                      const ModelWeights& w, const std::string& source, const std::string& option);

// Loads the model of `checkpoint` (built from the config, or with an empty config_path from
// the checkpoint's own, on the cpu unless overridden) and evaluates it on the held-out data:
// {"loss", "main_loss", ...} as the trainer's eval records. With a `dump` path it also
// writes dump_eval_batch's file there.
nlohmann::json evaluate_checkpoint(const std::string& config_path, const std::vector<std::string>& overrides,
                                   const std::string& checkpoint, const std::string& dump = "");
// The same for a plain state dict file (load_weights): with no config_path, the config the
// file records, and an error naming --weights when it records none.
nlohmann::json evaluate_weights_file(const std::string& config_path, const std::vector<std::string>& overrides,
                                     const std::string& weights, const std::string& dump = "");

// `moegrad inspect`: where the model comes from and how it is routed.
struct InspectArgs {
  std::string config_path;  // empty: the file's own config
  std::vector<std::string> overrides;
  std::string checkpoint;   // one of checkpoint and weights (a plain state dict, load_weights)
  std::string weights;
  int64_t batches = 0;       // held-out batches; 0: train.eval_batches
  bool train_routing = false;  // route as in training (capacity_factor_train, threshold_train)
  bool force = false;          // the config's LoadOptions::force
};
// Runs the model of a checkpoint or state dict (loaded as evaluate_checkpoint and
// evaluate_weights_file load it) without gradients on the task's held-out batches, with the
// draws evaluate() makes, and counts each MoE layer's routing. A ConfigFileError for a model
// without MoE layers.
RoutingReport inspect_routing(const InspectArgs& args);

// For comparing the model with another implementation of it (tools/torch_reference.py):
// writes the first eval batch (`inputs`, `targets`), the threshold-routing uniforms it is
// given (`route_uniforms`, (top_n, batch, seq), one tensor for every MoE layer), and what
// the model made of it in eval mode (`prediction`, `main_loss`), with the resolved config
// in the metadata (moegrad.config), as one safetensors file. docs/file_formats.md has it.
void dump_eval_batch(TrainModel& model, const Task& task, const Config& cfg, const std::string& path);

}  // namespace moegrad::train
