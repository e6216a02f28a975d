#include "moegrad/train/task.h"

#include "moegrad/core/core.h"

#include "moegrad/train/task_kind.h"

namespace moegrad::train {

Batch Task::on_device(Batch b) const {
  for (Tensor* t : {&b.inputs, &b.targets, &b.labels})
    if (t->defined()) *t = core::to(*t, device_);
  return b;
}

std::unique_ptr<Task> make_task(const Config& c, DType dtype) {
  std::unique_ptr<Task> task = find_task(c.data.task).build(c, dtype);
  task->set_device(Device::parse(c.device));
  return task;
}

}  // namespace moegrad::train
