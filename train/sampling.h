#pragma once
// `moegrad sample`: text from a char_lm checkpoint.
#include <string>

#include "moegrad/core/device.h"

namespace moegrad::train {

struct SampleOptions {
  std::string checkpoint;
  std::string prompt = "\n";
  int64_t length = 200;
  double temperature = 1.0;
  uint64_t seed = 0;
  Device device;  // where the model runs (--device); the checkpoint may come from any
};

// The prompt followed by `length` sampled characters. The model and vocabulary come from
// the checkpoint alone (its JSON carries the resolved config and the vocabulary).
std::string sample_text(const SampleOptions& opt);

}  // namespace moegrad::train
