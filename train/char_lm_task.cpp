#include "train/char_lm_task.h"

#include "core/core.h"

namespace moegrad::train {

CharLmTask::CharLmTask(const DataConfig& cfg, uint64_t seed)
    : seq_len_(cfg.seq_len),
      eval_seed_(seed ^ 0x6576616cULL),
      data_(cfg.path.empty() ? builtin_corpus(seed, static_cast<size_t>(cfg.corpus_chars)) : load_text_file(cfg.path),
            cfg.seq_len) {}

Batch CharLmTask::split(const Tensor& windows) const {
  Batch b;
  b.inputs = core::contiguous(core::narrow(windows, 1, 0, seq_len_));
  b.targets = core::contiguous(core::narrow(windows, 1, 1, seq_len_));
  b.tokens = b.inputs.numel();
  return b;
}

Batch CharLmTask::train_batch(int64_t batch_size, Generator& gen) const {
  return split(data_.sample_batch(/*eval=*/false, batch_size, seq_len_, gen));
}

Batch CharLmTask::eval_batch(int64_t i, int64_t batch_size) const {
  Generator gen(eval_seed_ + static_cast<uint64_t>(i));
  return split(data_.sample_batch(/*eval=*/true, batch_size, seq_len_, gen));
}

}  // namespace moegrad::train
