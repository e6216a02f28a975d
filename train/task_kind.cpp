#include "moegrad/train/task_kind.h"

#include <sys/stat.h>

#include <algorithm>

#include "moegrad/core/registry.h"
#include "moegrad/train/char_lm_task.h"
#include "moegrad/train/cluster_task.h"

namespace moegrad::train {

namespace {

constexpr double kFloatBytes = 4;  // the trainer's f32 inputs and targets
constexpr double kIndexBytes = 8;  // int64 ids and labels

TaskSpec clusters_task() {
  return {.name = "clusters",
          .doc = "regression on Gaussian clusters, each with its own random target map",
          .keys = {},
          .build = [](const Config& c, DType dt) -> std::unique_ptr<Task> {
            return std::make_unique<ClusterTask>(c.data, c.seed, dt);
          },
          .data_bytes =
              [](const Config& c) {
                const DataConfig& d = c.data;
                // Generation works in f64 and gathers each sample's target map (ClusterTask).
                const double n = static_cast<double>(std::max(d.train_size, d.eval_size));
                const double in = static_cast<double>(d.input_dim), out = static_cast<double>(d.output_dim);
                const double kept =
                    static_cast<double>(d.train_size + d.eval_size) * ((in + out) * kFloatBytes + kIndexBytes);
                const double temporaries = n * 8 *
                                           (in * ClusterTask::kTargetHidden + ClusterTask::kTargetHidden * out +
                                            3 * in + 2 * out);
                return kept + temporaries;
              },
          .data_key = [](const Config& c) -> std::string {
            return c.data.train_size >= c.data.eval_size ? "data.train_size" : "data.eval_size";
          },
          .validate = [](const Config& c) -> std::optional<KeyProblem> {
            if (c.train.batch_size > c.data.train_size)
              return KeyProblem{"train.batch_size",
                                "must not exceed data.train_size=" + std::to_string(c.data.train_size) + ", got " +
                                    std::to_string(c.train.batch_size),
                                {"data.train_size"}};
            return std::nullopt;
          }};
}

// The corpus's size: data.path's file, or the built-in corpus.
double corpus_chars(const Config& c) {
  struct stat st {};
  if (c.data.path.empty()) return static_cast<double>(c.data.corpus_chars);
  return ::stat(c.data.path.c_str(), &st) == 0 ? static_cast<double>(st.st_size) : 0;
}

TaskSpec char_lm_task() {
  return {.name = "char_lm",
          .doc = "next-character prediction on a text file or the built-in generated corpus",
          .keys = {},
          .build = [](const Config& c, DType) -> std::unique_ptr<Task> {
            return std::make_unique<CharLmTask>(c.data, c.seed);
          },
          // The text and a copy, the ids and their splits.
          .data_bytes = [](const Config& c) { return corpus_chars(c) * (2 + 2 * kIndexBytes); },
          .data_key = [](const Config& c) -> std::string {
            return c.data.path.empty() ? "data.corpus_chars" : "data.path";
          },
          .validate = nullptr};
}

Registry<TaskSpec>& registry() {
  // Never destroyed: configs may be read while statics unwind.
  static auto* r = new Registry<TaskSpec>("task", {clusters_task(), char_lm_task()});
  return *r;
}

}  // namespace

void register_task(TaskSpec spec) {
  MOEGRAD_CHECK(!spec.name.empty() && spec.build && spec.data_bytes && spec.data_key, "register_task: '", spec.name,
                "' needs a name, build, data_bytes and data_key");
  scope_keys(spec.keys, spec.name, [](const Config& c) { return c.data.task; });
  registry().add(std::move(spec));
}

const TaskSpec& find_task(const std::string& name) { return registry().find(name, "task"); }

std::vector<std::string> task_names() { return registry().names(); }

int64_t data_int(const Config& c, const std::string& name) {
  return own_int(find_task(c.data.task).keys, c.data.task, c, name);
}
double data_real(const Config& c, const std::string& name) {
  return own_real(find_task(c.data.task).keys, c.data.task, c, name);
}
bool data_bool(const Config& c, const std::string& name) {
  return own_bool(find_task(c.data.task).keys, c.data.task, c, name);
}

}  // namespace moegrad::train
