// Checkpoints that are damaged or poisoned: a flipped bit, NaN weights, a sidecar that is
// missing or has the wrong types. Each is an error naming the file and what is wrong, in
// load_checkpoint and in the commands that take a checkpoint (train --resume, eval, sample).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "moegrad/core/core.h"
#include "run_helpers.h"
#include "moegrad/train/checkpoint.h"
#include "moegrad/train/trainer.h"

using namespace moegrad;
using namespace moegrad::train;
namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace moegrad::test;

namespace {
std::string ckpt(const fs::path& run, int64_t step) { return checkpoint_path((run / "checkpoints").string(), step); }

// Flips one bit of the first element of `tensor` in the safetensors file at `path`.
void flip_bit(const std::string& path, const std::string& tensor, int bit) {
  std::string bytes = file_text(path);
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  const json h = json::parse(bytes.substr(8, header));
  const uint64_t at = 8 + header + h.at(tensor).at("data_offsets")[0].get<uint64_t>();
  bytes[at + bit / 8] = static_cast<char>(bytes[at + bit / 8] ^ (1 << (bit % 8)));
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string load_error(const std::string& path) {
  try {
    load_checkpoint(path);
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("loaded " << path);
  return "";
}
}  // namespace

TEST_CASE("a flipped bit in a checkpoint is found on load, naming the file and the tensor", "[train][checkpoint]") {
  fs::path run = fresh_dir("ckpt_flip"), io = fresh_dir("ckpt_flip_io");
  train_here(tiny_toy(3), run.string());
  // The top exponent bit of a float32 weight: a finite, wildly wrong value. Before, resume
  // and eval took it with exit 0.
  flip_bit(ckpt(run, 3), "model/head.weight", 30);
  CHECK_THAT(load_error(ckpt(run, 3)), Catch::StartsWith(ckpt(run, 3) + ": tensor 'model/head.weight' is damaged"));
  RunResult r = run_moegrad_capture({"eval", kToyConfig, "--checkpoint", ckpt(run, 3)}, io);
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("tensor 'model/head.weight' is damaged"));
  CHECK(r.out.empty());
  // Optimizer state and generator states are covered too.
  flip_bit(ckpt(run, 2), "rng/data", 0);
  CHECK_THAT(load_error(ckpt(run, 2)), Catch::Contains("tensor 'rng/data' is damaged"));
  // Resuming the run falls back past both to step 1.
  std::string log;
  train_here(tiny_toy(3), "", run.string(), &log);
  CHECK_THAT(log, Catch::Contains("resumed at step 1"));
  CHECK_NOTHROW(load_checkpoint(ckpt(run, 3)));
  fs::remove_all(run);
  fs::remove_all(io);
}

TEST_CASE("NaN weights in a checkpoint are refused by load, eval and sample, naming the tensor",
          "[train][checkpoint]") {
  fs::path run = fresh_dir("ckpt_nan"), io = fresh_dir("ckpt_nan_io");
  train_here(tiny_toy(2), run.string());
  CheckpointState s = load_checkpoint(ckpt(run, 2));
  nn::StateDict poisoned;
  for (const auto& [name, t] : s.model)
    poisoned.set(name, name == "head.bias" ? full(t.shape(), std::numeric_limits<double>::quiet_NaN(), t.dtype())
                                           : t);
  s.model = poisoned;
  s.step = 7;
  save_checkpoint((run / "checkpoints").string(), s);  // with valid checksums: only the values are wrong
  const std::string path = ckpt(run, 7);
  CHECK(load_error(path) == path + ": model weight 'head.bias' holds NaN values; the file cannot be used");
  RunResult r = run_moegrad_capture({"eval", kToyConfig, "--checkpoint", path}, io);
  CHECK(r.status == 1);  // before: exit 0 and "loss": null
  CHECK_THAT(r.err, Catch::Contains("model weight 'head.bias' holds NaN"));
  r = run_moegrad_capture({"sample", "--checkpoint", path}, io);
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("model weight 'head.bias' holds NaN"));
  fs::remove_all(run);
  fs::remove_all(io);
}

TEST_CASE("finite weights that give a NaN loss: eval says so with exit 3", "[train][checkpoint]") {
  fs::path run = fresh_dir("ckpt_huge"), io = fresh_dir("ckpt_huge_io");
  train_here(tiny_toy(2), run.string());
  CheckpointState s = load_checkpoint(ckpt(run, 2));
  nn::StateDict huge;
  for (const auto& [name, t] : s.model) huge.set(name, full(t.shape(), 3e38, t.dtype()));
  s.model = huge;
  save_checkpoint((run / "checkpoints").string(), s);
  std::vector<std::string> args = {"eval", kToyConfig, "--checkpoint", ckpt(run, 2)};
  for (const auto& o : tiny_toy(2)) args.insert(args.end(), {"--set", o});
  RunResult r = run_moegrad_capture(args, io);
  CHECK(r.status == 3);  // before: exit 0 and "loss": null
  CHECK_THAT(r.err, Catch::Contains(ckpt(run, 2) + ": its weights give a NaN eval loss"));
  fs::remove_all(run);
  fs::remove_all(io);
}

TEST_CASE("finite weights whose logits overflow: sample refuses with exit 3 instead of printing one character",
          "[train][checkpoint]") {
  fs::path run = fresh_dir("ckpt_sample_huge"), io = fresh_dir("ckpt_sample_huge_io");
  const std::string config = std::string(MOEGRAD_SOURCE_DIR) + "/configs/char_lm.yaml";
  train_here({"train.steps=1", "train.batch_size=2", "train.eval_batches=1", "train.eval_interval=1000",
              "train.log_interval=1", "train.checkpoint_interval=1", "model.dim=8", "model.heads=2",
              "model.context=8", "model.num_experts=2", "data.seq_len=8", "data.corpus_chars=2000",
              "optim.schedule.warmup_steps=0"},
             run.string(), "", nullptr, config);
  CheckpointState s = load_checkpoint(ckpt(run, 1));
  nn::StateDict huge;
  for (const auto& [name, t] : s.model) huge.set(name, name == "head.weight" ? full(t.shape(), 3e38, t.dtype()) : t);
  s.model = huge;
  save_checkpoint((run / "checkpoints").string(), s);
  RunResult r = run_moegrad_capture({"sample", "--checkpoint", ckpt(run, 1), "--length", "5"}, io);
  CHECK(r.status == 3);  // before: exit 0 and the vocabulary's last character, repeated
  CHECK_THAT(r.err, Catch::Contains("next-character probabilities are not finite"));
  fs::remove_all(run);
  fs::remove_all(io);
}

TEST_CASE("a checkpoint's JSON sidecar that is missing or has wrong types gives a plain message",
          "[train][checkpoint]") {
  fs::path run = fresh_dir("ckpt_sidecar"), io = fresh_dir("ckpt_sidecar_io");
  train_here(tiny_toy(2), run.string());
  const std::string sidecar = fs::path(ckpt(run, 2)).replace_extension(".json").string();
  const json good = json::parse(file_text(sidecar));
  for (const auto& [key, value] : std::vector<std::pair<std::string, json>>{
           {"format", 7}, {"step", "2"}, {"step", -1}, {"config", json::array()}, {"vocab", 3}}) {
    INFO(key << " = " << value.dump());
    json bad = good;
    bad[key] = value;
    std::ofstream(sidecar) << bad.dump();
    const std::string msg = load_error(ckpt(run, 2));
    CHECK_THAT(msg, Catch::StartsWith(sidecar + ": not a moegrad-checkpoint/2 checkpoint description") &&
                        Catch::Contains("\"" + key + "\"") && !Catch::Contains("json.exception"));
  }
  std::ofstream(sidecar) << "[1, 2";
  CHECK_THAT(load_error(ckpt(run, 2)), Catch::Contains("not a JSON object"));
  // Nesting is refused before nlohmann builds it (an 80 MB "[[[[" needs gigabytes).
  std::ofstream(sidecar) << std::string(1 << 20, '[');
  CHECK_THAT(load_error(ckpt(run, 2)), Catch::Contains("nests deeper than 32 levels"));
  // Missing: say what the sidecar is, about the checkpoint given (before: "cannot read
  // X.json", for a file the user never named).
  fs::remove(sidecar);
  RunResult r = run_moegrad_capture({"sample", "--checkpoint", ckpt(run, 2)}, io);
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains(ckpt(run, 2) + ": the checkpoint's JSON sidecar " + sidecar +
                                    " (step, config, vocabulary) is missing"));
  r = run_moegrad_capture({"sample", "--checkpoint", (run / "nope.safetensors").string()}, io);
  CHECK_THAT(r.err, Catch::Contains((run / "nope.safetensors").string() + ": no such checkpoint file"));
  fs::remove_all(run);
  fs::remove_all(io);
}

TEST_CASE("errors about a checkpoint or folder name the option the user gave", "[train][checkpoint]") {
  fs::path run = fresh_dir("ckpt_where"), io = fresh_dir("ckpt_where_io");
  train_here(tiny_toy(2), run.string());
  // eval: "--checkpoint", not "--resume".
  std::vector<std::string> args = {"eval", kToyConfig, "--checkpoint", ckpt(run, 2)};
  for (const auto& o : tiny_toy(2, {"model.dim=24"})) args.insert(args.end(), {"--set", o});
  RunResult r = run_moegrad_capture(args, io);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--checkpoint " + ckpt(run, 2) + ": config: differs from the checkpoint's saved "
                                    "config") && !Catch::Contains("--resume"));
  // The optimizer and its schedule do not change what the weights compute: eval takes them.
  args = {"eval", kToyConfig, "--checkpoint", ckpt(run, 2)};
  for (const auto& o : tiny_toy(2, {"optim.lr=0.5", "optim.schedule.kind=constant"})) args.insert(args.end(), {"--set", o});
  r = run_moegrad_capture(args, io);
  CHECK(r.status == 0);  // before: "config: differs from the checkpoint's saved config"
  CHECK_THAT(r.out, Catch::Contains("\"loss\""));
  // --out FILE: a file, not "already holds files".
  const fs::path file = io / "a_file";
  std::ofstream(file) << "x";
  r = run_moegrad_capture(train_args(tiny_toy(2), {"--out", file.string()}), io / "out");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--out " + file.string() + ": out: " + file.string() + " is a file, not a folder"));
  CHECK(file_text(file) == "x");
  fs::remove_all(run);
  fs::remove_all(io);
}
