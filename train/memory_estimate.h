#pragma once
// What a run will need in memory, estimated from its config alone, so that a size that
// cannot fit is refused at load (by check-config too) instead of grinding through page
// faults or summoning the OOM killer. An estimate, not an accounting: it counts the
// parameters with their gradient and two optimizer moments, the generated or loaded data,
// and one step's activations with a stated factor; the real peak is below it for every
// shipped config.
#include <cstdint>
#include <string>

namespace moegrad::train {

struct Config;

struct MemoryEstimate {
  double parameter_bytes = 0;   // parameters, gradients, optimizer state
  double data_bytes = 0;        // the task's data set
  double activation_bytes = 0;  // one training step's saved activations and their gradients

  int64_t total_bytes() const;
  // "parameters and optimizer state 1.2 GiB, data 3.0 MiB, activations 40.0 MiB"
  std::string describe() const;
  // The config key that drives the largest part, to blame in the error.
  std::string dominant_key() const;
  std::string data_key;  // the key that sizes the data (data.train_size, data.corpus_chars, data.path)
};

MemoryEstimate estimate_memory(const Config& c);

}  // namespace moegrad::train
