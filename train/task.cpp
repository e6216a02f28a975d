#include "train/task.h"

#include "train/char_lm_task.h"
#include "train/cluster_task.h"

namespace moegrad::train {

std::unique_ptr<Task> make_task(const Config& c, DType dtype) {
  if (c.data.task == TaskKind::char_lm) return std::make_unique<CharLmTask>(c.data, c.seed);
  return std::make_unique<ClusterTask>(c.data, c.seed, dtype);
}

}  // namespace moegrad::train
