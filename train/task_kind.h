#pragma once
// Tasks, registered by name: `data.task` picks one. moegrad ships clusters (regression on
// Gaussian clusters) and char_lm (next character); a program registers its own before it
// runs the command line (train/cli.h), with keys of its own under `data:`
// (int_param(..., ParamsOf::data) and the like, read back with data_int / data_real /
// data_bool). A model kind names the task it trains on (model_kind.h).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "moegrad/train/config_schema.h"
#include "moegrad/train/task.h"

namespace moegrad::train {

struct TaskSpec {
  std::string name;
  std::string doc;  // one line, for configs/README.md
  // Its own keys under data:, applying to this task only.
  std::vector<ConfigKey> keys;
  // The task's data, on the host (make_task moves batches to the config's device).
  std::function<std::unique_ptr<Task>(const Config&, DType)> build;
  // For the memory pre-check, before anything is read or generated: the bytes its data
  // holds, and the key to blame when they dominate.
  std::function<double(const Config&)> data_bytes;
  std::function<std::string(const Config&)> data_key;
  // Rules between its keys (optional): the first one broken, or nothing.
  std::function<std::optional<KeyProblem>(const Config&)> validate;
};

// Adds a task; name, build, data_bytes and data_key are required, a name may be taken once.
void register_task(TaskSpec spec);
// The task of that name, or a ConfigError on key "task" listing the registered ones.
const TaskSpec& find_task(const std::string& name);
std::vector<std::string> task_names();

// The value of c's task's own key `name` (its default when unset).
int64_t data_int(const Config& c, const std::string& name);
double data_real(const Config& c, const std::string& name);
bool data_bool(const Config& c, const std::string& name);

}  // namespace moegrad::train
