#include "moegrad/train/schedule_kind.h"

#include <sstream>

#include "moegrad/core/registry.h"
#include "moegrad/nn/optim/lr_schedule.h"

namespace moegrad::train {

namespace {

// The built-ins are nn::LrSchedule's kinds, from optim.lr over train.steps.
std::string got(double v) {
  std::ostringstream os;
  os << ", got " << v;
  return os.str();
}

// warmup_cosine's keys against the rest; under another schedule they mean nothing.
std::optional<KeyProblem> check_warmup_cosine(const Config& c) {
  const ScheduleConfig& s = c.optim.schedule;
  // train.steps is in range here (checked as it was read), so this blames warmup_steps only
  // when warmup_steps is the one out of line.
  if (s.warmup_steps >= c.train.steps)
    return KeyProblem{"optim.schedule.warmup_steps",
                      "must be in [0, train.steps=" + std::to_string(c.train.steps) + ")" + got(s.warmup_steps),
                      {"train.steps"}};
  if (!(s.min_lr >= 0 && s.min_lr <= c.optim.lr))
    return KeyProblem{"optim.schedule.min_lr", "must be in [0, optim.lr]" + got(s.min_lr), {"optim.lr"}};
  return std::nullopt;
}

ScheduleSpec builtin(const std::string& name, nn::LrScheduleKind kind, const std::string& doc) {
  return {.name = name,
          .doc = doc,
          .keys = {},
          .lr = [kind](const Config& c, int64_t step) {
            const ScheduleConfig& s = c.optim.schedule;
            return nn::LrSchedule{.kind = kind,
                                  .base_lr = c.optim.lr,
                                  .warmup_steps = s.warmup_steps,
                                  .total_steps = c.train.steps,
                                  .min_lr = s.min_lr,
                                  .step_size = s.step_size,
                                  .gamma = s.gamma}
                .lr_at(step);
          },
          .validate = kind == nn::LrScheduleKind::warmup_cosine ? check_warmup_cosine : nullptr};
}

Registry<ScheduleSpec>& registry() {
  // Never destroyed: configs may be read while statics unwind.
  static auto* r = new Registry<ScheduleSpec>(
      "schedule",
      {builtin("constant", nn::LrScheduleKind::constant, "`optim.lr` throughout"),
       builtin("warmup_cosine", nn::LrScheduleKind::warmup_cosine,
               "linear warmup over `warmup_steps`, then a half cosine down to `min_lr` at `train.steps`"),
       builtin("step", nn::LrScheduleKind::step, "`lr * gamma^(step / step_size)`")});
  return *r;
}

}  // namespace

void register_schedule(ScheduleSpec spec) {
  MOEGRAD_CHECK(!spec.name.empty() && spec.lr, "register_schedule: '", spec.name, "' needs a name and lr");
  scope_keys(spec.keys, spec.name, [](const Config& c) { return c.optim.schedule.kind; });
  registry().add(std::move(spec));
}

const ScheduleSpec& find_schedule(const std::string& name) { return registry().find(name); }

std::vector<std::string> schedule_names() { return registry().names(); }

double lr_at(const Config& c, int64_t step) { return find_schedule(c.optim.schedule.kind).lr(c, step); }

int64_t schedule_int(const Config& c, const std::string& name) {
  return own_int(find_schedule(c.optim.schedule.kind).keys, c.optim.schedule.kind, c, name);
}
double schedule_real(const Config& c, const std::string& name) {
  return own_real(find_schedule(c.optim.schedule.kind).keys, c.optim.schedule.kind, c, name);
}
bool schedule_bool(const Config& c, const std::string& name) {
  return own_bool(find_schedule(c.optim.schedule.kind).keys, c.optim.schedule.kind, c, name);
}

}  // namespace moegrad::train
