#include "moegrad/train/task.h"

#include "moegrad/core/core.h"

#include "moegrad/train/char_lm_task.h"
#include "moegrad/train/cluster_task.h"

namespace moegrad::train {

Batch Task::on_device(Batch b) const {
  for (Tensor* t : {&b.inputs, &b.targets, &b.labels})
    if (t->defined()) *t = core::to(*t, device_);
  return b;
}

std::unique_ptr<Task> make_task(const Config& c, DType dtype) {
  std::unique_ptr<Task> task;
  if (c.data.task == TaskKind::char_lm) task = std::make_unique<CharLmTask>(c.data, c.seed);
  else task = std::make_unique<ClusterTask>(c.data, c.seed, dtype);
  task->set_device(Device::parse(c.device));
  return task;
}

}  // namespace moegrad::train
