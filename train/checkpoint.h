#pragma once
// Checkpoints: <run>/checkpoints/step_<N>.safetensors (model, optimizer state, generator
// states, and a checksum of every tensor in its metadata) and step_<N>.json beside it (step,
// resolved config, vocabulary). Both are written atomically, tensors first: a checkpoint
// counts only once its JSON exists, so a run killed at any moment leaves its newest complete
// checkpoint loadable. Loading verifies every checksum and refuses model weights that are
// not finite, so a damaged or poisoned file is an error naming the file and the tensor.
#include <string>
#include <vector>

#include "moegrad/core/generator.h"
#include "moegrad/nn/state_dict.h"

namespace moegrad::train {

struct CheckpointState {
  int64_t step = 0;  // optimizer steps done
  nn::StateDict model;
  nn::StateDict optimizer;
  Generator::State train_rng{};
  Generator::State data_rng{};
  std::string config_yaml;
  std::string vocab;  // char_lm vocabulary (CharVocab::to_string), else empty
};

// 64 bits over a tensor's bytes (on any device): any change confined to one 8-byte word
// changes it. The checksum checkpoints record per tensor, and what ranks compare.
uint64_t tensor_digest(const Tensor& t);

std::string checkpoint_path(const std::string& checkpoint_dir, int64_t step);  // the .safetensors
// The step of a file named step_<N>.safetensors or step_<N>.json, or -1 for any other name.
int64_t checkpoint_step(const std::string& path);
void save_checkpoint(const std::string& checkpoint_dir, const CheckpointState& state);
// `path` is the .safetensors file (or its .json); errors name the file and what is wrong.
CheckpointState load_checkpoint(const std::string& path);
// Complete checkpoints (both files present), oldest first.
std::vector<std::string> list_checkpoints(const std::string& checkpoint_dir);
// Deletes all but the newest `keep_last` complete checkpoints, never `keep` (the last good
// one), and the halves of incomplete ones (a .safetensors without its JSON or the reverse:
// what a kill between the two writes, or during a prune, leaves). Returns what it deleted.
std::vector<std::string> prune_checkpoints(const std::string& checkpoint_dir, int64_t keep_last,
                                           const std::string& keep = "");
// Deletes the checkpoint `path` (both files), JSON first.
void remove_checkpoint(const std::string& path);

// What eval and sample need of a model: its weights and, where the file records them, the
// config it was built from and the char_lm vocabulary.
struct ModelWeights {
  nn::StateDict model;
  std::string config_yaml;  // empty: not recorded (a state dict saved by PyTorch, say)
  std::string vocab;        // empty: not recorded, or not a char_lm model
  int64_t step = -1;        // -1: not recorded
};
// The model part of a checkpoint (load_checkpoint's checks).
ModelWeights checkpoint_weights(const std::string& checkpoint);
// A plain state dict file, as PyTorch's safetensors save_file(model.state_dict()) writes
// and `moegrad export` writes: tensors named as the model's state_dict(), no prefix; the
// metadata may carry the config, vocabulary and step (keys kWeightsConfigKey, ...), which
// PyTorch ignores. Refuses a moegrad checkpoint (naming --checkpoint) and non-finite weights.
ModelWeights load_weights(const std::string& path);
// `moegrad export`: the checkpoint's model as a plain state dict file, written atomically.
// Returns the number of tensors written.
size_t export_weights(const std::string& checkpoint, const std::string& out);

inline constexpr const char* kWeightsConfigKey = "moegrad.config";
inline constexpr const char* kWeightsVocabKey = "moegrad.vocab";
inline constexpr const char* kWeightsStepKey = "moegrad.step";

}  // namespace moegrad::train
