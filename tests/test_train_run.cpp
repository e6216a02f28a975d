// Training end to end on small configs: the loss falls, runs are deterministic, a run
// killed with SIGKILL resumes to bit-identical weights, NaNs stop the run cleanly, and a
// failed validation writes nothing.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "moegrad/nn/safetensors.h"
#include "run_helpers.h"
#include "moegrad/train/checkpoint.h"
#include "moegrad/train/config.h"
#include "moegrad/train/sampling.h"
#include "moegrad/train/trainer.h"

using namespace moegrad;
using namespace moegrad::train;
namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace moegrad::test;

namespace {
const std::string kToy = std::string(MOEGRAD_SOURCE_DIR) + "/configs/toy_moe.yaml";
const std::string kLm = std::string(MOEGRAD_SOURCE_DIR) + "/configs/char_lm.yaml";

// A short toy run: 40 steps, checkpoints every 10.
std::vector<std::string> short_run(std::vector<std::string> extra = {}) {
  std::vector<std::string> o = {"train.steps=40", "train.checkpoint_interval=10", "train.eval_interval=20",
                                "train.log_interval=10", "optim.schedule.warmup_steps=5", "train.batch_size=64"};
  o.insert(o.end(), extra.begin(), extra.end());
  return o;
}

TrainSummary train_quietly(const std::string& config, const std::vector<std::string>& overrides,
                           const fs::path& out, const std::string& resume = "") {
  std::ostringstream log;
  TrainArgs args{config, overrides, resume.empty() ? out.string() : "", resume, false, {}, false, {}};
  return run_training(args, log);
}

std::vector<json> records(const fs::path& run, const std::string& kind) {
  std::ifstream in(run / "metrics.jsonl");
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line);
    if (j["kind"] == kind) out.push_back(j);
  }
  return out;
}

}  // namespace

TEST_CASE("toy training: the loss falls, metrics and checkpoints are written", "[train][slow]") {
  fs::path out = fresh_dir("run_falls");
  TrainSummary s = train_quietly(kToy, short_run({"train.keep_last=2"}), out);
  auto train = records(out, "train");
  REQUIRE(train.size() == 4);
  CHECK(train.back()["main_loss"].get<double>() < 0.5 * train.front()["main_loss"].get<double>());
  for (const char* key : {"loss", "main_loss", "aux_loss", "balance_loss", "router_z_loss", "lr", "grad_norm",
                          "tokens_per_s", "dropped_fraction", "routing_entropy", "layers"})
    CHECK(train.back().contains(key));
  CHECK(train.back()["layers"].size() == 2);
  CHECK(train.back()["layers"][0]["tokens_per_expert"].size() == 8);
  auto eval = records(out, "eval");
  REQUIRE(eval.size() == 2);
  CHECK(eval.back()["specialisation"].get<double>() >= 0.0);
  CHECK(list_checkpoints((out / "checkpoints").string()).size() == 2);  // keep_last
  CHECK(fs::exists(out / "config.yaml"));
  CHECK(parse_config(nn::read_file((out / "config.yaml").string()), "saved").train.steps == 40);
  std::ifstream csv(out / "metrics.csv");
  std::string header;
  std::getline(csv, header);
  CHECK_THAT(header, Catch::StartsWith("kind,step,loss,main_loss"));
  json ev = evaluate_checkpoint(kToy, short_run(), s.last_checkpoint);
  CHECK(ev["loss"].get<double>() == Approx(eval.back()["loss"].get<double>()).epsilon(1e-12));
  fs::remove_all(out);
}

TEST_CASE("same config and seed give the same numbers", "[train][slow]") {
  fs::path a = fresh_dir("run_det_a"), b = fresh_dir("run_det_b");
  train_quietly(kToy, short_run(), a);
  train_quietly(kToy, short_run(), b);
  CHECK(tensor_bytes(checkpoint_path((a / "checkpoints").string(), 40)) ==
        tensor_bytes(checkpoint_path((b / "checkpoints").string(), 40)));
  fs::path c = fresh_dir("run_det_c");
  train_quietly(kToy, short_run({"seed=1"}), c);
  CHECK(tensor_bytes(checkpoint_path((a / "checkpoints").string(), 40)) !=
        tensor_bytes(checkpoint_path((c / "checkpoints").string(), 40)));
  for (auto& d : {a, b, c}) fs::remove_all(d);
}

TEST_CASE("moegrad train on 2 threads trains, and is deterministic at that thread count", "[train][slow]") {
  fs::path a = fresh_dir("run_threads_a"), b = fresh_dir("run_threads_b");
  auto args = [&](const fs::path& out) {
    std::vector<std::string> v{"train", kToy, "--threads", "2", "--out", out.string()};
    for (const std::string& o : short_run()) v.insert(v.end(), {"--set", o});
    return v;
  };
  REQUIRE(run_moegrad(args(a)) == 0);
  REQUIRE(run_moegrad(args(b)) == 0);
  CHECK(tensor_bytes(checkpoint_path((a / "checkpoints").string(), 40)) ==
        tensor_bytes(checkpoint_path((b / "checkpoints").string(), 40)));
  CHECK(run_moegrad({"train", kToy, "--threads", "0", "--out", fresh_dir("run_threads_zero").string()}) == 2);
  for (auto& d : {a, b}) fs::remove_all(d);
}

TEST_CASE("a run killed with SIGKILL resumes to bit-identical weights", "[train][slow]") {
  const std::vector<std::string> o = short_run({"train.steps=120", "train.checkpoint_interval=5"});
  fs::path whole = fresh_dir("run_whole"), killed = fresh_dir("run_killed");
  train_quietly(kToy, o, whole);
  std::vector<std::string> args = {"train", kToy, "--out", killed.string()};
  for (const auto& s : o) args.insert(args.end(), {"--set", s});
  pid_t pid = spawn_moegrad(args);
  // Kill it once it has made some progress but before it ends.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (list_checkpoints((killed / "checkpoints").string()).size() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  auto left = list_checkpoints((killed / "checkpoints").string());
  REQUIRE_FALSE(left.empty());
  CHECK_NOTHROW(load_checkpoint(left.back()));  // the newest complete checkpoint always loads
  const int64_t resumed_from = load_checkpoint(left.back()).step;
  INFO("killed after step " << resumed_from);
  CHECK(resumed_from < 120);
  train_quietly(kToy, o, killed, killed.string());
  CHECK(tensor_bytes(checkpoint_path((whole / "checkpoints").string(), 120)) ==
        tensor_bytes(checkpoint_path((killed / "checkpoints").string(), 120)));
  // The metrics of the resumed run have each step once.
  auto train = records(killed, "train");
  for (size_t i = 1; i < train.size(); ++i) CHECK(train[i]["step"].get<int64_t>() > train[i - 1]["step"].get<int64_t>());
  fs::remove_all(whole);
  fs::remove_all(killed);
}

TEST_CASE("the expert bias is saved with the model, and a resumed run continues it bit for bit", "[train][slow]") {
  const std::vector<std::string> o =
      short_run({"model.expert_bias=true", "model.balance_loss=none", "train.keep_last=100"});
  fs::path whole = fresh_dir("run_bias_whole"), part = fresh_dir("run_bias_part");
  train_quietly(kToy, o, whole);
  // The same run stopped after step 20: its later checkpoints removed.
  fs::remove_all(part);
  fs::copy(whole, part, fs::copy_options::recursive);
  for (int64_t step : {30, 40}) {
    const std::string ck = checkpoint_path((part / "checkpoints").string(), step);
    fs::remove(ck);
    fs::remove(ck.substr(0, ck.size() - std::string(".safetensors").size()) + ".json");
  }
  train_quietly(kToy, o, part, part.string());
  const std::string end = checkpoint_path((whole / "checkpoints").string(), 40);
  CHECK(tensor_bytes(end) == tensor_bytes(checkpoint_path((part / "checkpoints").string(), 40)));
  // The bias moved: the test compares something that trained.
  const CheckpointState ck = load_checkpoint(end);
  const Tensor* bias = ck.model.find("blocks.0.moe.gate.expert_bias");
  REQUIRE(bias != nullptr);
  double moved = 0;
  for (double v : bias->to_vector<double>()) moved = std::max(moved, std::abs(v));
  CHECK(moved > 0.0);
  fs::remove_all(whole);
  fs::remove_all(part);
}

TEST_CASE("resuming with a different model is refused", "[train]") {
  fs::path out = fresh_dir("run_mismatch");
  train_quietly(kToy, short_run({"train.steps=10", "optim.schedule.warmup_steps=2"}), out);
  CHECK_THROWS_WITH(train_quietly(kToy, short_run({"train.steps=20", "model.dim=16"}), out, out.string()),
                    Catch::Contains("differs from the run's saved config") && Catch::Contains("dim: 16"));
  // Every differing key at once, with both values (before: only the first differing line).
  CHECK_THROWS_WITH(
      train_quietly(kToy, short_run({"train.steps=20", "optim.schedule.warmup_steps=2", "model.dim=16", "model.num_experts=2", "optim.lr=0.5"}), out,
                    out.string()),
      Catch::Contains("differs from the run's saved config in 3 keys: ") && Catch::Contains("model.dim: 16 here, ") &&
          Catch::Contains("model.num_experts: 2 here, ") && Catch::Contains("optim.lr: 0.5 here, "));
  fs::remove_all(out);
}

// What a run that stopped on a NaN or Inf says: the step, the term that went non-finite,
// and the last good checkpoint (or that there is none).
std::string numerical_stop(const std::vector<std::string>& overrides, const fs::path& out) {
  try {
    train_here(overrides, out.string());
  } catch (const NumericalError& e) {
    return e.what();
  }
  FAIL("training did not stop");
  return "";
}

TEST_CASE("a destructive update is never checkpointed, and the last good checkpoint survives keep_last", "[train]") {
  // The learning rate jumps by 1e30 at the 4th update: the weights of step 4 are finite but
  // give NaN losses. Before, step 4 was saved, keep_last 1 then deleted step 3, and the
  // message named step 4 as good.
  fs::path out = fresh_dir("run_nan_late");
  const std::vector<std::string> o = {"train.steps=6", "train.batch_size=16", "train.eval_batches=1",
                                      "optim.schedule.kind=step", "optim.schedule.step_size=3",
                                      "optim.schedule.warmup_steps=0", "optim.schedule.gamma=1e30",
                                      "optim.clip_norm=0", "train.checkpoint_interval=1", "train.keep_last=1"};
  const std::string msg = numerical_stop(o, out);
  const std::string good = checkpoint_path((out / "checkpoints").string(), 3);
  CHECK_THAT(msg, Catch::StartsWith("step 4: ") && Catch::Contains("the main loss is NaN") &&
                      Catch::Contains("not saved") && Catch::Contains("The last good checkpoint is " + good) &&
                      Catch::Contains("the largest parameter is"));
  CHECK(list_checkpoints((out / "checkpoints").string()) == std::vector<std::string>{good});
  json ev = evaluate_checkpoint(kToy, o, good);
  CHECK(std::isfinite(ev["loss"].get<double>()));
  fs::remove_all(out);
}

TEST_CASE("a NaN before the first checkpoint says there is no good checkpoint", "[train]") {
  fs::path out = fresh_dir("run_nan_first");
  const std::string msg =
      numerical_stop({"optim.lr=1e30", "optim.clip_norm=0", "optim.schedule.min_lr=0", "train.steps=30",
                      "train.checkpoint_interval=1", "optim.schedule.warmup_steps=0", "train.batch_size=16"},
                     out);
  CHECK_THAT(msg, Catch::StartsWith("step 1: ") && Catch::Contains("the main loss is NaN") &&
                      Catch::Contains("There is no good checkpoint yet"));
  CHECK(list_checkpoints((out / "checkpoints").string()).empty());
  fs::remove_all(out);
}

TEST_CASE("an optimizer step that makes a weight NaN is blamed on that weight, not on the loss", "[train]") {
  // Adam with eps 0 divides 0 by 0 for an expert that got no tokens: the losses stay finite
  // while that expert's weights are NaN. Before, that checkpoint was kept.
  fs::path out = fresh_dir("run_nan_eps");
  const std::string msg = numerical_stop({"optim.eps=0", "train.steps=6", "train.batch_size=16", "train.eval_batches=1",
                                          "optim.schedule.warmup_steps=1", "train.checkpoint_interval=1"},
                                         out);
  CHECK_THAT(msg, Catch::StartsWith("step 1: the optimizer step made parameter 'blocks.") &&
                      Catch::Contains(".moe.experts.") && Catch::Contains("NaN from finite gradients"));
  CHECK(list_checkpoints((out / "checkpoints").string()).empty());
  fs::remove_all(out);
}

TEST_CASE("a failed validation writes nothing, an existing run is never overwritten", "[train]") {
  fs::path out = fresh_dir("run_keep");
  fs::create_directories(out);
  std::ofstream(out / "precious.txt") << "earlier results";
  CHECK_THROWS_AS(train_quietly(kToy, {"model.top_n=99"}, out / "new"), ConfigFileError);
  CHECK_FALSE(fs::exists(out / "new"));
  CHECK_THROWS_WITH(train_quietly(kToy, short_run(), out), Catch::Contains("already holds files"));
  CHECK(nn::read_file((out / "precious.txt").string()) == "earlier results");
  // Through the binary: exit status 2 for configuration errors, nothing created.
  CHECK(run_moegrad({"train", kToy, "--out", (out / "cli").string(), "--set", "model.top_n=99"}) == 2);
  CHECK(run_moegrad({"check-config", kToy, "--set", "train.steps=0"}) == 2);
  CHECK(run_moegrad({"check-config", kToy}) == 0);
  CHECK(run_moegrad({"train", "--help"}) == 0);
  CHECK(run_moegrad({"train"}) == 2);
  CHECK_FALSE(fs::exists(out / "cli"));
  fs::remove_all(out);
}

TEST_CASE("char_lm trains a few steps and samples text", "[train][slow]") {
  fs::path out = fresh_dir("run_lm");
  TrainSummary s = train_quietly(kLm,
                                 {"train.steps=6", "optim.schedule.warmup_steps=1", "model.dim=16", "model.heads=2",
                                  "data.seq_len=16", "model.context=16", "train.batch_size=4", "train.eval_batches=1",
                                  "data.corpus_chars=5000", "train.checkpoint_interval=6"},
                                 out);
  CHECK(s.final_eval["bits_per_char"].get<double>() > 0);
  auto sample = [&](const std::string& prompt, int64_t length) {
    SampleOptions o;
    o.checkpoint = s.last_checkpoint;
    o.prompt = prompt;
    o.length = length;
    o.seed = 3;
    return sample_text(o);
  };
  std::string text = sample("The ", 30);
  CHECK(text.size() == 34);
  CHECK(text.rfind("The ", 0) == 0);
  CHECK(sample("The ", 30) == text);  // seeded
  CHECK_THROWS_WITH(sample("\x01", 5), Catch::Contains("unknown character"));
  fs::remove_all(out);
}

TEST_CASE("every shipped config trains a few steps", "[train][slow]") {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(std::string(MOEGRAD_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string name = entry.path().stem().string();
    INFO(name);
    ++count;
    fs::path out = fresh_dir(std::string("few_") + name);
    TrainSummary s = train_quietly(entry.path().string(),
                                   {"train.steps=4", "optim.schedule.warmup_steps=1", "train.eval_batches=1"}, out);
    CHECK(std::isfinite(s.final_train_loss));
    fs::remove_all(out);
  }
  CHECK(count >= 13);  // toy_moe, dense_baseline, router_gumbel, char_lm and the routing recipes
}
