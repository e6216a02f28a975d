#include "moegrad/nn/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "moegrad/core/error.h"

namespace moegrad::nn {

void LrSchedule::validate() const {
  MOEGRAD_CHECK(base_lr >= 0.0, "lr schedule: base_lr must be >= 0, got ", base_lr);
  MOEGRAD_CHECK(warmup_steps >= 0, "lr schedule: warmup_steps must be >= 0, got ", warmup_steps);
  MOEGRAD_CHECK(total_steps >= 1, "lr schedule: total_steps must be >= 1, got ", total_steps);
  MOEGRAD_CHECK(min_lr >= 0.0 && min_lr <= base_lr, "lr schedule: min_lr must be in [0, base_lr=",
                base_lr, "], got ", min_lr);
  MOEGRAD_CHECK(step_size >= 1, "lr schedule: step_size must be >= 1, got ", step_size);
  MOEGRAD_CHECK(gamma > 0.0, "lr schedule: gamma must be positive, got ", gamma);
}

double LrSchedule::lr_at(int64_t step) const {
  switch (kind) {
    case LrScheduleKind::constant: return base_lr;
    case LrScheduleKind::step:
      return base_lr * std::pow(gamma, static_cast<double>(step / step_size));
    case LrScheduleKind::warmup_cosine: {
      if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / warmup_steps;
      const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
      const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
      return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    }
  }
  return base_lr;
}

}  // namespace moegrad::nn
