// Hostile configs (issue 11): values out of the machine's range, sizes that cannot fit,
// files that are not files, silent coercions, duplicate keys, misplaced blame. Each is a
// ConfigFileError (exit 2) naming the key or the file.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "moegrad/moe/top_n_gating.h"
#include "run_helpers.h"
#include "config_errors.h"
#include "moegrad/train/config.h"

using namespace moegrad;
using namespace moegrad::train;

namespace {
using test::error_of;
std::string load_error(const std::string& path, const std::vector<std::string>& overrides = {}) {
  try {
    load_config(path, overrides);
  } catch (const ConfigFileError& e) {
    return e.what();
  }
  return "";
}
void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }
const std::string kToy = std::string(MOEGRAD_SOURCE_DIR) + "/configs/toy_moe.yaml";
}  // namespace

TEST_CASE("config integers have machine-sized ranges and the project's own message", "[train][config]") {
  CHECK(error_of("data:\n  input_dim: 2305843009213693952\n") ==
        "t.yaml:2: data.input_dim: expected an integer in [1, 65536], got '2305843009213693952'");
  CHECK(error_of("model:\n  kind: moe_lm\n  context: 4611686018427387904\ndata:\n  task: char_lm\n") ==
        "t.yaml:3: model.context: expected an integer in [1, 65536], got '4611686018427387904'");
  // Past int64 (where stoll threw std::out_of_range) and not an integer at all.
  CHECK(error_of("train:\n  steps: 99999999999999999999999\n") ==
        "t.yaml:2: train.steps: expected an integer in [1, 1099511627776], got '99999999999999999999999'");
  CHECK(error_of("seed: -1\n") == "t.yaml:1: seed: expected an integer in [0, 9223372036854775807], got '-1'");
  // Where "cannot create std::vector larger than max_size()" came from: the label vector of a
  // data.train_size past 2^60 (train/cluster_task.cpp), built before any tensor.
  CHECK(error_of("data:\n  train_size: 4611686018427387904\n") ==
        "t.yaml:2: data.train_size: expected an integer in [1, 2147483648], got '4611686018427387904'");
  CHECK(error_of("model:\n  num_experts: 100000\n") ==
        "t.yaml:2: model.num_experts: expected an integer in [1, 4096], got '100000'");
  CHECK(error_of("model:\n  router:\n    hidden_layers: [8, 0]\n") ==
        "t.yaml:3: model.router.hidden_layers[1]: expected an integer in [1, 65536], got '0'");
  CHECK_THAT(error_of("model:\n  expert_hidden_mult: 1e300\n"),
             Catch::Equals("t.yaml:2: model.expert_hidden_mult: must be a finite number in (0, 64], got 1e300"));
}

TEST_CASE("infinite, NaN and huge numbers are refused naming the key", "[train][config]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"optim:\n  lr: .inf\n", "optim.lr"},
      {"optim:\n  lr: .nan\n", "optim.lr"},
      {"optim:\n  eps: .inf\n", "optim.eps"},
      {"optim:\n  weight_decay: .inf\n", "optim.weight_decay"},
      {"optim:\n  name: sgd\n  momentum: .inf\n", "optim.momentum"},
      {"optim:\n  schedule:\n    gamma: .inf\n", "optim.schedule.gamma"},
      {"optim:\n  clip_norm: .inf\n", "optim.clip_norm"},
      {"model:\n  noise_mult: .inf\n", "model.noise_mult"},
      {"model:\n  balance_loss_coef: .inf\n", "model.balance_loss_coef"},
      {"model:\n  router_z_loss_coef: .nan\n", "model.router_z_loss_coef"},
      {"model:\n  capacity_factor_train: 6e17\n", "model.capacity_factor_train"},
      {"model:\n  capacity_factor_eval: .inf\n", "model.capacity_factor_eval"},
      {"model:\n  threshold_train: .inf\n", "model.threshold_train"},
      {"data:\n  cluster_std: .inf\n", "data.cluster_std"},
  };
  for (const auto& [yaml, key] : cases) {
    INFO(yaml);
    CHECK_THAT(error_of(yaml), Catch::StartsWith("t.yaml:") && Catch::Contains(": " + key + ": ") &&
                                   Catch::Contains("finite"));
  }
}

TEST_CASE("the expert capacity cannot overflow into the minimum", "[moe][gating]") {
  moe::TopNGatingOptions o;
  o.dim = 4;
  o.num_gates = 8;
  for (double factor : {1e18, 1e300}) {
    o.capacity_factor_train = factor;
    CHECK(o.capacity(1000, true) == 1000);
  }
  o.capacity_factor_train = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(o.validate(), ConfigError);
}

TEST_CASE("a run that cannot fit in memory is refused at validation, naming the key", "[train][config]") {
  // Each is refused with the estimate and what is available, before anything is allocated.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"model:\n  dim: 65536\n  num_experts: 4096\n", "model.dim"},
      {"model:\n  dim: 4096\n  num_experts: 4096\n  expert_hidden_mult: 64\n", "model.num_experts"},
      {"data:\n  input_dim: 65536\n  train_size: 1000000000\n", "data.train_size"},
      {"model:\n  kind: moe_lm\n  dim: 65536\n  heads: 1\n  context: 65536\ndata:\n  task: char_lm\n  seq_len: 65536\n",
       "data.seq_len"},
  };
  for (const auto& [yaml, key] : cases) {
    INFO(yaml);
    CHECK_THAT(error_of(yaml), Catch::Contains(": " + key + ": this run (") &&
                                   Catch::Contains("needs an estimated") && Catch::Contains("available"));
  }
  // A checkpoint's embedded config is parsed the same way (eval, sample, resume).
  CHECK_THAT(error_of("model:\n  dim: 60000\n  num_experts: 4096\n"), Catch::Contains("needs an estimated"));
  CHECK(error_of("model:\n  dim: 64\n") == "");
}

TEST_CASE("a config that is not a regular file is refused naming it", "[train][config]") {
  const auto dir = test::fresh_dir("config_files");
  std::filesystem::create_directories(dir);
  CHECK(load_error(dir.string()) == dir.string() + ": (file): is a directory, expected a regular file");
  CHECK(load_error("/dev/zero") == "/dev/zero: (file): is a character device, expected a regular file");
  const auto fifo = dir / "fifo.yaml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(load_error(fifo.string()) == fifo.string() + ": (file): is a pipe (FIFO), expected a regular file");
  CHECK_THAT(load_error("/proc/self/mem"), Catch::StartsWith("/proc/self/mem: (file): "));
  std::filesystem::remove_all(dir);
}

TEST_CASE("data.path is checked when the config loads", "[train][config]") {
  const auto dir = test::fresh_dir("data_path");
  std::filesystem::create_directories(dir);
  write(dir / "empty.txt", "");
  write(dir / "short.txt", std::string(100, 'a'));
  write(dir / "ok.txt", std::string(1000, 'a'));
  auto error_for = [&](const std::string& path) {
    const auto cfg = dir / "c.yaml";
    write(cfg, "model:\n  kind: moe_lm\ndata:\n  task: char_lm\n  seq_len: 16\n  path: " + path + "\n");
    return load_error(cfg.string());
  };
  for (const std::string& bad : {(dir / "missing.txt").string(), dir.string(), std::string("/dev/zero"),
                                std::string("/dev/urandom"), (dir / "empty.txt").string(),
                                (dir / "short.txt").string()}) {
    INFO(bad);
    CHECK_THAT(error_for(bad), Catch::Contains(": data.path: "));
  }
  CHECK_THAT(error_for((dir / "short.txt").string()), Catch::EndsWith("holds 100 characters, fewer than the 180 that data.seq_len=16 needs"));
  CHECK(error_for((dir / "ok.txt").string()) == "");
  // check-config catches it, with exit 2.
  write(dir / "bad.yaml", "model:\n  kind: moe_lm\ndata:\n  task: char_lm\n  path: " + (dir / "missing.txt").string() + "\n");
  CHECK(test::run_moegrad({"check-config", (dir / "bad.yaml").string()}) == 2);
  CHECK(test::run_moegrad({"check-config", dir.string()}) == 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("duplicate keys and second documents are errors with a line", "[train][config]") {
  CHECK(error_of("optim:\n  lr: 0.1\noptim:\n  lr: 0.2\n") == "t.yaml:3: optim: duplicate key (first given at line 1)");
  CHECK(error_of("model:\n  dim: 8\n  dim: 16\n") == "t.yaml:3: model.dim: duplicate key (first given at line 2)");
  CHECK(error_of("seed: 1\n---\nseed: 2\n") == "t.yaml:2: (syntax): a second YAML document; a config is one document");
}

TEST_CASE("errors point at the right place", "[train][config]") {
  CHECK(error_of("model:\n  top_n: 3\n  threshold_train:\n    - 0.2\n    - -1\n") ==
        "t.yaml:5: model.threshold_train[1]: must be a finite number >= 0, got -1");
  CHECK(error_of("model:\n  top_n: 3\n", {"model.threshold_train=[0.2,-1]"}) ==
        "--set model.threshold_train: model.threshold_train[1]: must be a finite number >= 0, got -1");
  // train.steps is checked before what derives from it (warmup_steps).
  CHECK(load_error(kToy, {"train.steps=0"}) ==
        "--set train.steps: train.steps: expected an integer in [1, 1099511627776], got '0'");
  // A huge value is echoed cut to 80 characters.
  const std::string e = error_of("model:\n  kind: " + std::string(5000, 'x') + "\n");
  CHECK_THAT(e, Catch::EndsWith("... (5000 characters)'"));
  CHECK(e.size() < 300);
  CHECK(error_of(std::string(5000, 'k') + ": 1\n").size() < 300);
}

TEST_CASE("the configs/README --set example works", "[train][config]") {
  Config c = load_config(kToy, {"model.top_n=3", "model.threshold_train=[0.2,0.3]"});
  CHECK(std::get<std::vector<double>>(c.model.moe_block.moe.threshold_train) == std::vector<double>{0.2, 0.3});
}
