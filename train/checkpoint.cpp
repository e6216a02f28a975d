#include "moegrad/train/checkpoint.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "moegrad/autograd/anomaly_mode.h"
#include "moegrad/core/core.h"
#include "moegrad/nn/json_depth.h"
#include "moegrad/nn/safetensors.h"

namespace moegrad::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Weights that would only make NaN losses are refused when read, naming the tensor.
void require_finite_weight(const Tensor& t, const std::string& path, const std::string& what) {
  if (std::string bad = non_finite_kind(t); !bad.empty())
    throw Error(path + ": " + what + " holds " + bad + " values; the file cannot be used");
}
// /1 files (no checksums) still load; /2 is what is written.
constexpr const char* kFormat = "moegrad-checkpoint/2";
constexpr const char* kFormatV1 = "moegrad-checkpoint/1";
constexpr const char* kChecksumPrefix = "checksum:";

bool known_format(const std::string& f) { return f == kFormat || f == kFormatV1; }

// 64 bits over the raw bytes, word by word. Every step (mix, xor, multiply by an odd
// constant) is a bijection, so any change confined to one word always changes the result;
// it guards against damage, not against someone forging a file.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t tensor_digest(const Tensor& t) {
  std::string bytes(static_cast<size_t>(t.numel()) * dtype_size(t.dtype()), '\0');
  Tensor c = core::contiguous(t);
  if (!bytes.empty()) c.backend().copy_to_host(bytes.data(), c.raw_data(), bytes.size());
  uint64_t h = mix(0x9e3779b97f4a7c15ULL ^ bytes.size());
  for (size_t i = 0; i < bytes.size(); i += 8) {
    uint64_t w = 0;
    std::memcpy(&w, bytes.data() + i, std::min<size_t>(8, bytes.size() - i));
    h = (h ^ mix(w)) * 0x100000001b3ULL;
  }
  return mix(h);
}

namespace {

std::string checksum(const Tensor& t) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(tensor_digest(t)));
  return hex;
}

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

// The sidecar, checked field by field: a hand-edited or damaged one is an error naming the
// field, never a JSON library message.
json read_sidecar(const std::string& meta_path, const std::string& path) {
  std::error_code ec;
  if (!fs::exists(meta_path, ec))
    throw Error(path + ": the checkpoint's JSON sidecar " + meta_path +
                " (step, config, vocabulary) is missing; a checkpoint is the pair step_<N>.safetensors + "
                "step_<N>.json that moegrad train writes together");
  const std::string text = nn::read_file(meta_path, kMaxTextFileBytes);
  const std::string what = meta_path + ": not a " + std::string(kFormat) + " checkpoint description";
  if (std::string why = nn::json_nesting_problem(text, nn::kMaxJsonDepth); !why.empty())
    throw Error(what + " (it " + why + ")");
  json meta = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded() || !meta.is_object()) throw Error(what + " (not a JSON object)");
  if (!meta.contains("format") || !meta["format"].is_string() || !known_format(meta["format"].get<std::string>()))
    throw Error(what + " (\"format\" is not \"" + kFormat + "\")");
  if (!meta.contains("step") || !meta["step"].is_number_integer() || meta["step"].get<int64_t>() < 0)
    throw Error(what + " (\"step\" is not a non-negative integer)");
  if (!meta.contains("config") || !meta["config"].is_string())
    throw Error(what + " (\"config\" is not a string)");
  if (meta.contains("vocab") && !meta["vocab"].is_string()) throw Error(what + " (\"vocab\" is not a string)");
  return meta;
}

std::string metadata_value(const nn::Metadata& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

// The two halves of one checkpoint, keyed by step.
struct Halves {
  std::string tensors, sidecar;
};
std::map<int64_t, Halves> scan(const std::string& dir) {
  std::map<int64_t, Halves> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const fs::path p = entry.path();
    const int64_t step = checkpoint_step(p.string());
    if (step < 0) continue;
    (p.extension() == ".json" ? out[step].sidecar : out[step].tensors) = p.string();
  }
  return out;
}
}  // namespace

std::string checkpoint_path(const std::string& dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "step_%08lld.safetensors", static_cast<long long>(step));
  return (fs::path(dir) / name).string();
}

int64_t checkpoint_step(const std::string& path) {
  const fs::path p(path);
  const std::string ext = p.extension().string(), stem = p.stem().string();
  if ((ext != ".safetensors" && ext != ".json") || stem.rfind("step_", 0) != 0 || stem.size() == 5) return -1;
  int64_t step = -1;
  const char* first = stem.data() + 5;
  const char* last = stem.data() + stem.size();
  auto [end, err] = std::from_chars(first, last, step);
  if (err != std::errc() || end != last || step < 0) return -1;
  return step;
}

void save_checkpoint(const std::string& dir, const CheckpointState& s) {
  fs::create_directories(dir);
  nn::StateDict tensors;
  for (const auto& [name, t] : s.model) tensors.set("model/" + name, t);
  for (const auto& [name, t] : s.optimizer) tensors.set("optim/" + name, t);
  tensors.set("rng/train", rng_tensor(s.train_rng));
  tensors.set("rng/data", rng_tensor(s.data_rng));
  nn::Metadata metadata = {{"format", kFormat}, {"step", std::to_string(s.step)}};
  for (const auto& [name, t] : tensors) metadata[kChecksumPrefix + name] = checksum(t);
  const std::string path = checkpoint_path(dir, s.step);
  nn::save_safetensors(path, tensors, metadata);
  json meta = {{"format", kFormat}, {"step", s.step}, {"config", s.config_yaml}, {"vocab", s.vocab},
               {"tensors", fs::path(path).filename().string()}};
  nn::write_file_atomic(json_path(path), meta.dump(2) + "\n");
}

CheckpointState load_checkpoint(const std::string& given) {
  std::string path = given;
  if (fs::path(path).extension() == ".json") path = fs::path(path).replace_extension(".safetensors").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such checkpoint file");
  const std::string meta_path = json_path(path);
  json meta = read_sidecar(meta_path, path);
  CheckpointState s;
  s.step = meta["step"].get<int64_t>();
  s.config_yaml = meta["config"].get<std::string>();
  s.vocab = meta.value("vocab", std::string());
  nn::SafetensorsContents f = nn::load_safetensors(path);
  const std::string format = metadata_value(f.metadata, "format");
  if (!known_format(format)) throw Error(path + ": not a " + std::string(kFormat) + " file");
  if (metadata_value(f.metadata, "step") != std::to_string(s.step))
    throw Error(path + ": step " + metadata_value(f.metadata, "step") + " does not match " + meta_path);
  if (format == kFormat) {
    for (const auto& [name, t] : f.tensors) {
      const std::string want = metadata_value(f.metadata, kChecksumPrefix + name);
      if (want.empty()) throw Error(path + ": tensor '" + name + "' has no checksum: the file was altered");
      if (checksum(t) != want)
        throw Error(path + ": tensor '" + name + "' is damaged: its checksum is " + checksum(t) +
                    ", the checkpoint recorded " + want);
    }
    for (const auto& [key, value] : f.metadata)
      if (key.rfind(kChecksumPrefix, 0) == 0 && !f.tensors.contains(key.substr(std::strlen(kChecksumPrefix))))
        throw Error(path + ": tensor '" + key.substr(std::strlen(kChecksumPrefix)) +
                    "' is listed in the checksums but missing from the file");
  }
  for (const auto& [name, t] : f.tensors) {
    if (name.rfind("model/", 0) == 0) {
      require_finite_weight(t, path, "model weight '" + name.substr(6) + "'");
      s.model.set(name.substr(6), t);
    } else if (name.rfind("optim/", 0) == 0) {
      s.optimizer.set(name.substr(6), t);
    }
  }
  s.train_rng = rng_state(f.tensors, "rng/train", path);
  s.data_rng = rng_state(f.tensors, "rng/data", path);
  return s;
}

ModelWeights checkpoint_weights(const std::string& checkpoint) {
  CheckpointState s = load_checkpoint(checkpoint);
  return {std::move(s.model), std::move(s.config_yaml), std::move(s.vocab), s.step};
}

ModelWeights load_weights(const std::string& path) {
  nn::SafetensorsContents f = nn::load_safetensors(path);
  if (known_format(metadata_value(f.metadata, "format")))
    throw ConfigError("--weights " + path,
                      "this is a moegrad checkpoint (model, optimizer and generator state); pass it as "
                      "--checkpoint, or `moegrad export` it to a plain state dict for --weights");
  ModelWeights w;
  w.config_yaml = metadata_value(f.metadata, kWeightsConfigKey);
  w.vocab = metadata_value(f.metadata, kWeightsVocabKey);
  if (const std::string step = metadata_value(f.metadata, kWeightsStepKey); !step.empty()) {
    auto [end, ec] = std::from_chars(step.data(), step.data() + step.size(), w.step);
    if (ec != std::errc() || end != step.data() + step.size() || w.step < 0)
      throw Error(path + ": metadata " + kWeightsStepKey + " is '" + step + "', expected a non-negative integer");
  }
  for (const auto& [name, t] : f.tensors) {
    require_finite_weight(t, path, "weight '" + name + "'");
    w.model.set(name, t);
  }
  return w;
}

size_t export_weights(const std::string& checkpoint, const std::string& out) {
  ModelWeights w = checkpoint_weights(checkpoint);
  nn::Metadata metadata = {{kWeightsConfigKey, w.config_yaml}, {kWeightsStepKey, std::to_string(w.step)}};
  if (!w.vocab.empty()) metadata[kWeightsVocabKey] = w.vocab;
  nn::save_safetensors(out, w.model, metadata);
  return w.model.size();
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& [step, h] : scan(dir))  // a map: ascending steps
    if (!h.tensors.empty() && !h.sidecar.empty()) out.push_back(h.tensors);
  return out;
}

void remove_checkpoint(const std::string& path) {
  // The JSON goes first: a half-deleted checkpoint is then simply incomplete.
  std::error_code ec;
  fs::remove(json_path(path), ec);
  fs::remove(path, ec);
}

std::vector<std::string> prune_checkpoints(const std::string& dir, int64_t keep_last, const std::string& keep) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& [step, h] : scan(dir)) {
    if (h.tensors.empty() == h.sidecar.empty()) continue;
    const std::string& half = h.tensors.empty() ? h.sidecar : h.tensors;
    if (fs::remove(half, ec)) removed.push_back(half);
  }
  std::vector<std::string> all = list_checkpoints(dir);
  const auto protect = [&](const std::string& p) {
    return !keep.empty() && fs::equivalent(p, keep, ec);
  };
  for (size_t i = 0; i + static_cast<size_t>(std::max<int64_t>(keep_last, 0)) < all.size(); ++i) {
    if (protect(all[i])) continue;
    remove_checkpoint(all[i]);
    removed.push_back(all[i]);
  }
  return removed;
}

}  // namespace moegrad::train
