#pragma once
// What a run of a config will hold in memory, estimated from the config alone so that a
// size that cannot fit is refused before anything is allocated.
#include <string>

#include "moegrad/train/config.h"

namespace moegrad::train {

struct MemoryEstimate {
  double parameter_bytes = 0;   // parameters x (value + gradient + optimizer state)
  double data_bytes = 0;        // the dataset as held, with its generation temporaries
  double activation_bytes = 0;  // one training step's activations x kActivationFactor
  // The key that contributes most to the largest term, for the message.
  std::string dominating_key;

  // The sum, saturated to a representable byte count.
  int64_t total_bytes() const;
  // "parameters X, data Y, activations Z".
  std::string breakdown() const;
};

// Activations kept for backward, their gradients and temporaries: this many times the
// forward activations of one step.
inline constexpr double kActivationFactor = 3.0;

// Computed in double precision, so no config value in range can overflow it. The
// estimate errs high (every buffer of a step counted as live at once).
MemoryEstimate estimate_memory(const Config& c);

}  // namespace moegrad::train
