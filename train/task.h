#pragma once
// The built-in toy tasks the trainer knows. A task owns its data (generated from the
// seed, or read once), hands out batches, and knows its main loss.
#include <memory>
#include <string>

#include "core/generator.h"
#include "train/config.h"

namespace moegrad::train {

struct Batch {
  Tensor inputs;   // clusters: (1, B, input_dim) float; char_lm: (B, seq) int64
  Tensor targets;  // clusters: (1, B, output_dim) float; char_lm: (B, seq) int64
  Tensor labels;   // clusters: (B) int64 cluster ids (for specialisation); else undefined
  int64_t tokens = 0;
};

class Task {
 public:
  virtual ~Task() = default;
  // Batches drawn with `gen`, whose state the trainer checkpoints.
  virtual Batch train_batch(int64_t batch_size, Generator& gen) const = 0;
  // Held-out batch i; the same every time.
  virtual Batch eval_batch(int64_t i, int64_t batch_size) const = 0;
  // char_lm: the vocabulary (serialised) and its size; empty / 0 for other tasks.
  virtual std::string vocabulary() const { return ""; }
  virtual int64_t vocab_size() const { return 0; }
};

std::unique_ptr<Task> make_task(const Config& c, DType dtype);

}  // namespace moegrad::train
