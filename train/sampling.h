#pragma once
// `moegrad sample`: text from a char_lm checkpoint.
#include <string>

#include "moegrad/core/device.h"

namespace moegrad::train {

struct SampleOptions {
  std::string checkpoint;  // a moegrad checkpoint, or `weights` below
  std::string prompt = "\n";
  int64_t length = 200;
  double temperature = 1.0;
  uint64_t seed = 0;
  Device device;  // where the model runs (--device); the checkpoint may come from any
  std::string weights;  // a plain state dict file (train/checkpoint.h's load_weights)
  std::string config;   // the model's YAML config; empty: the one the file records
};

// The prompt followed by `length` sampled characters. The model and vocabulary come from
// the file (a checkpoint's JSON carries the resolved config and the vocabulary, and so does
// the metadata of an exported state dict); a state dict that records neither needs
// `config`, whose data then gives the vocabulary.
std::string sample_text(const SampleOptions& opt);

}  // namespace moegrad::train
