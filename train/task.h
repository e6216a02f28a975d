#pragma once
// The tasks the trainer builds from `data.task` (train/task_kind.h). A task owns its data (generated from the
// seed, or read once), hands out batches, and knows its main loss.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "moegrad/core/generator.h"
#include "moegrad/train/config.h"

namespace moegrad::train {

struct Batch {
  Tensor inputs;   // clusters: (1, B, input_dim) float; char_lm: (B, seq) int64
  Tensor targets;  // clusters: (1, B, output_dim) float; char_lm: (B, seq) int64
  Tensor labels;   // clusters: (B) int64 cluster ids (for specialisation); else undefined
  int64_t tokens = 0;
  // The axis of inputs and targets that counts the B examples, along which data parallel
  // ranks split the batch: clusters 1 (one routing group of B tokens), char_lm 0 (rows).
  int64_t example_axis = 0;
};

class Task {
 public:
  virtual ~Task() = default;
  // Batches drawn with `gen`, whose state the trainer checkpoints, handed out on the run's
  // device; the data itself stays on the host, where it was drawn.
  Batch train_batch(int64_t batch_size, Generator& gen) const { return on_device(host_train_batch(batch_size, gen)); }
  // Held-out batch i; the same every time.
  Batch eval_batch(int64_t i, int64_t batch_size) const { return on_device(host_eval_batch(i, batch_size)); }
  // char_lm: the vocabulary (serialised) and its size; empty / 0 for other tasks.
  virtual std::string vocabulary() const { return ""; }
  virtual int64_t vocab_size() const { return 0; }
  // Adds the task's own measures to an eval record, given its mean main loss.
  virtual void add_eval_metrics(nlohmann::json& record, double main_loss) const {
    (void)record;
    (void)main_loss;
  }
  void set_device(const Device& device) { device_ = device; }

 protected:
  virtual Batch host_train_batch(int64_t batch_size, Generator& gen) const = 0;
  virtual Batch host_eval_batch(int64_t i, int64_t batch_size) const = 0;

 private:
  Batch on_device(Batch b) const;
  Device device_;
};

// The task of c.data, handing out batches on c's device.
std::unique_ptr<Task> make_task(const Config& c, DType dtype);

}  // namespace moegrad::train
