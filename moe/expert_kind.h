#pragma once
// Expert kinds, registered by name: what an Expert's net is made of. ExpertOptions::kind
// (YAML model.expert_kind) picks one. moegrad ships three; a program adds its own with
// register_expert_kind before it builds a model, and then every command that builds
// experts (train, eval, parity, ...) knows it by name.
//
//   geglu   Linear(d, 2h) -> GEGLU(h) -> Linear(h, d), h = int(d * hidden_mult * 2 / 3):
//           st-moe-pytorch's expert, the default
//   swiglu  Linear(d, 2h) -> SwiGLU(h) -> Linear(h, d), the same h (LLaMA's feedforward)
//   mlp     Linear(d, h) -> GELU -> Linear(h, d), h = int(d * hidden_mult)
//
// With prenorm an RMSNorm(d) comes first in every kind. The layers are named net.<i> in
// order, as torch.nn.Sequential names them.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "moegrad/core/generator.h"
#include "moegrad/moe/expert.h"
#include "moegrad/nn/module.h"

namespace moegrad::moe {

// Where the grouped fast path (grouped_experts.h) finds a GEGLU feedforward's layers,
// as submodule paths of the expert: Linear(d, 2h), GEGLU(h), Linear(h, d).
struct GegluLayout {
  std::string in, act, out;
};

struct ExpertKind {
  std::string name;
  std::string doc;  // one line: what the net is
  // The hidden width for these options (checked >= 1 by ExpertOptions::validate).
  std::function<int64_t(const ExpertOptions&)> hidden;
  // The net's layers after the optional prenorm, mapping opt.dim to opt.dim.
  std::function<std::vector<std::shared_ptr<nn::Layer>>(const ExpertOptions&, Generator&, DType)> layers;
  // What the memory pre-checks count before anything is built: parameters of those layers,
  // and forward activation elements per token inside them (the output included).
  std::function<double(const ExpertOptions&)> parameter_count;
  std::function<double(const ExpertOptions&)> activations_per_token;
  // The layout the grouped fast path can run, or nothing (null function or nullopt): the
  // experts then run one by one, with the same results.
  std::function<std::optional<GegluLayout>(const ExpertOptions&)> grouped;
};

// Adds a kind; every field but `grouped` is required, and a name may be taken once.
void register_expert_kind(ExpertKind kind);
// The kind of that name, or a ConfigError on key "kind" listing the registered ones.
const ExpertKind& find_expert_kind(const std::string& name);
std::vector<std::string> expert_kind_names();

}  // namespace moegrad::moe
