#include "moegrad/train/char_lm_task.h"

#include "moegrad/core/core.h"

namespace moegrad::train {

namespace {
// A data.path that cannot be used is a configuration error naming the key.
std::string corpus_text(const DataConfig& cfg, uint64_t seed) {
  if (cfg.path.empty()) return builtin_corpus(seed, static_cast<size_t>(cfg.corpus_chars));
  try {
    return load_text_file(cfg.path);
  } catch (const Error& e) {
    throw ConfigFileError("data.path '" + cfg.path + "'", "data.path", e.what());
  }
}
}  // namespace

CharLmTask::CharLmTask(const DataConfig& cfg, uint64_t seed)
    : seq_len_(cfg.seq_len),
      eval_seed_(seed ^ 0x6576616cULL),
      data_(corpus_text(cfg, seed), cfg.seq_len) {}

Batch CharLmTask::split(const Tensor& windows) const {
  Batch b;
  b.inputs = core::contiguous(core::narrow(windows, 1, 0, seq_len_));
  b.targets = core::contiguous(core::narrow(windows, 1, 1, seq_len_));
  b.tokens = b.inputs.numel();
  return b;
}

Batch CharLmTask::host_train_batch(int64_t batch_size, Generator& gen) const {
  return split(data_.sample_batch(/*eval=*/false, batch_size, seq_len_, gen));
}

Batch CharLmTask::host_eval_batch(int64_t i, int64_t batch_size) const {
  Generator gen(eval_seed_ + static_cast<uint64_t>(i));
  return split(data_.sample_batch(/*eval=*/true, batch_size, seq_len_, gen));
}

}  // namespace moegrad::train
