#pragma once
// train --dump-grads STEPS DIR: at the chosen steps, what each MoE layer computed and the
// gradient of the step's loss (main + aux) with respect to it, one safetensors file per
// step in the parity fixtures' layout (docs/file_formats.md), to diff against a PyTorch
// run of the same step.
#include <cstdint>
#include <set>
#include <string>

#include "moegrad/nn/module.h"
#include "moegrad/train/model.h"
#include "moegrad/train/task.h"

namespace moegrad::train {

struct GradDump {
  std::set<int64_t> steps;  // 1-based optimizer steps
  std::string dir;
  bool at(int64_t step) const { return !dir.empty() && steps.count(step) > 0; }
};

// "1,10,100" -> {1, 10, 100}; an error naming --dump-grads and the part that is not a step.
std::set<int64_t> parse_dump_steps(const std::string& text);

// Before backward: keeps the gradients of the intermediates the dump writes.
void retain_dumped(const ModelOutput& out);

// After backward: writes DIR/step_<N>.safetensors (atomically) and returns its path.
std::string write_grad_dump(const GradDump& dump, int64_t step, const Batch& batch, const ModelOutput& out,
                            const nn::Module& model, const std::string& config_yaml);

}  // namespace moegrad::train
