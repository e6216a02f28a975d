#pragma once
#include <cmath>
// `char_lm`: next-character prediction on a text file, or on the built-in generated corpus.
#include "moegrad/train/char_corpus.h"
#include "moegrad/train/task.h"

namespace moegrad::train {

class CharLmTask : public Task {
 public:
  CharLmTask(const DataConfig& cfg, uint64_t seed);
  Batch host_train_batch(int64_t batch_size, Generator& gen) const override;
  Batch host_eval_batch(int64_t i, int64_t batch_size) const override;
  std::string vocabulary() const override { return data_.vocab.to_string(); }
  int64_t vocab_size() const override { return data_.vocab.size(); }
  const CharVocab& vocab() const { return data_.vocab; }
  // bits per character: the main loss (mean cross-entropy in nats) over ln 2.
  void add_eval_metrics(nlohmann::json& record, double main_loss) const override {
    record["bits_per_char"] = main_loss / std::log(2.0);
  }

 private:
  Batch split(const Tensor& windows) const;

  int64_t seq_len_;
  uint64_t eval_seed_;
  CharDataset data_;
};

}  // namespace moegrad::train
