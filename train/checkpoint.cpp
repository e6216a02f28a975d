#include "train/checkpoint.h"

#include <algorithm>
#include <bit>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/core.h"
#include "nn/safetensors.h"

namespace moegrad::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
constexpr const char* kFormat = "moegrad-checkpoint/1";

Tensor rng_tensor(const Generator::State& s) {
  std::vector<int64_t> v;
  for (uint64_t w : s) v.push_back(std::bit_cast<int64_t>(w));
  return from_vector(v);
}

Generator::State rng_state(const nn::StateDict& sd, const std::string& key, const std::string& path) {
  const Tensor* t = sd.find(key);
  if (!t || t->dtype() != DType::i64 || t->shape() != Shape{4})
    throw Error(path + ": checkpoint has no int64 [4] tensor '" + key + "'");
  Generator::State s{};
  std::vector<int64_t> v = t->to_vector<int64_t>();
  for (size_t i = 0; i < 4; ++i) s[i] = std::bit_cast<uint64_t>(v[i]);
  return s;
}

std::string json_path(const std::string& safetensors_path) {
  return fs::path(safetensors_path).replace_extension(".json").string();
}
}  // namespace

std::string checkpoint_path(const std::string& dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "step_%08lld.safetensors", static_cast<long long>(step));
  return (fs::path(dir) / name).string();
}

void save_checkpoint(const std::string& dir, const CheckpointState& s) {
  fs::create_directories(dir);
  nn::StateDict tensors;
  for (const auto& [name, t] : s.model) tensors.set("model/" + name, t);
  for (const auto& [name, t] : s.optimizer) tensors.set("optim/" + name, t);
  tensors.set("rng/train", rng_tensor(s.train_rng));
  tensors.set("rng/data", rng_tensor(s.data_rng));
  const std::string path = checkpoint_path(dir, s.step);
  nn::save_safetensors(path, tensors, {{"format", kFormat}, {"step", std::to_string(s.step)}});
  json meta = {{"format", kFormat}, {"step", s.step}, {"config", s.config_yaml}, {"vocab", s.vocab},
               {"tensors", fs::path(path).filename().string()}};
  nn::write_file_atomic(json_path(path), meta.dump(2) + "\n");
}

CheckpointState load_checkpoint(const std::string& given) {
  std::string path = given;
  if (fs::path(path).extension() == ".json") path = fs::path(path).replace_extension(".safetensors").string();
  CheckpointState s;
  const std::string meta_path = json_path(path);
  json meta = json::parse(nn::read_file(meta_path), nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded() || !meta.is_object() || meta.value("format", "") != kFormat ||
      !meta.contains("step") || !meta["step"].is_number_integer() || !meta.contains("config") ||
      !meta["config"].is_string())
    throw Error(meta_path + ": not a " + std::string(kFormat) + " checkpoint description");
  s.step = meta["step"].get<int64_t>();
  s.config_yaml = meta["config"].get<std::string>();
  s.vocab = meta.value("vocab", "");
  nn::SafetensorsContents f = nn::load_safetensors(path);
  if (f.metadata["format"] != kFormat) throw Error(path + ": not a " + std::string(kFormat) + " file");
  if (f.metadata["step"] != std::to_string(s.step))
    throw Error(path + ": step " + f.metadata["step"] + " does not match " + meta_path);
  for (const auto& [name, t] : f.tensors) {
    if (name.rfind("model/", 0) == 0) s.model.set(name.substr(6), t);
    else if (name.rfind("optim/", 0) == 0) s.optimizer.set(name.substr(6), t);
  }
  s.train_rng = rng_state(f.tensors, "rng/train", path);
  s.data_rng = rng_state(f.tensors, "rng/data", path);
  return s;
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const fs::path p = entry.path();
    const std::string name = p.filename().string();
    if (name.rfind("step_", 0) != 0 || p.extension() != ".safetensors") continue;
    if (fs::exists(json_path(p.string()))) out.push_back(p.string());
  }
  std::sort(out.begin(), out.end());  // zero-padded steps sort by name
  return out;
}

void prune_checkpoints(const std::string& dir, int64_t keep_last) {
  std::vector<std::string> all = list_checkpoints(dir);
  for (size_t i = 0; i + keep_last < all.size(); ++i) {
    // The JSON goes first: a half-deleted checkpoint is then simply incomplete.
    fs::remove(json_path(all[i]));
    fs::remove(all[i]);
  }
}

}  // namespace moegrad::train
