#pragma once
#include <cstdint>
#include <string>

namespace moegrad::nn {

enum class LrScheduleKind { constant, warmup_cosine, step };

// The learning rate as a function of the step index (0 for the first update).
struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::constant;
  double base_lr = 1e-3;
  // warmup_cosine: linear from base_lr / warmup_steps up to base_lr over warmup_steps,
  // then half a cosine down to min_lr at total_steps (and min_lr after).
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_lr = 0.0;
  // step: base_lr * gamma^(step / step_size).
  int64_t step_size = 1;
  double gamma = 0.1;

  double lr_at(int64_t step) const;
  // Throws naming the field when a value is out of range.
  void validate() const;
};

}  // namespace moegrad::nn
