#pragma once
// Learning-rate schedules, registered by name: `optim.schedule.kind` picks one. moegrad
// ships constant, warmup_cosine and step (nn/optim/lr_schedule.h); a program registers its
// own before it runs the command line (train/cli.h), with keys of its own under
// `optim.schedule:` (int_param(..., ParamsOf::schedule) and the like, read back with
// schedule_int / schedule_real / schedule_bool).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "moegrad/train/config_schema.h"

namespace moegrad::train {

struct ScheduleSpec {
  std::string name;
  std::string doc;  // one line, for configs/README.md
  // Its own keys under optim.schedule:, applying to this schedule only.
  std::vector<ConfigKey> keys;
  // The learning rate of update `step` (0 for the first), from optim.lr over train.steps.
  std::function<double(const Config&, int64_t step)> lr;
  // Rules between its keys (optional): the first one broken, or nothing.
  std::function<std::optional<KeyProblem>(const Config&)> validate;
};

// Adds a schedule; name and lr are required, and a name may be taken once.
void register_schedule(ScheduleSpec spec);
// The schedule of that name, or a ConfigError on key "kind" listing the registered ones.
const ScheduleSpec& find_schedule(const std::string& name);
std::vector<std::string> schedule_names();

// The learning rate of update `step` under c's schedule.
double lr_at(const Config& c, int64_t step);

// The value of c's schedule's own key `name` (its default when unset).
int64_t schedule_int(const Config& c, const std::string& name);
double schedule_real(const Config& c, const std::string& name);
bool schedule_bool(const Config& c, const std::string& name);

}  // namespace moegrad::train
