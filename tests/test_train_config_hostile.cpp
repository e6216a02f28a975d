// Hostile config values and files: every one is a located ConfigFileError (exit 2 from the
// binary), never a crash, a silent coercion, a hang or a run on the defaults.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "run_helpers.h"
#include "train/config.h"
#include "train/memory_estimate.h"

using namespace moegrad;
using namespace moegrad::train;
namespace fs = std::filesystem;

namespace {
std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(yaml, "t.yaml", overrides);
  } catch (const ConfigFileError& e) {
    return e.what();
  }
  return "";
}
std::string load_error(const std::string& path) {
  try {
    load_config(path);
  } catch (const ConfigFileError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("config sizes have ranges: values that would overflow a shape are refused by key", "[train][config]") {
  CHECK(error_of("data:\n  input_dim: 2305843009213693952\n") ==
        "t.yaml:2: data.input_dim: must be in [1, 16777216], got 2305843009213693952");
  CHECK(error_of("model:\n  kind: moe_lm\n  context: 4611686018427387904\ndata:\n  task: char_lm\n") ==
        "t.yaml:3: model.context: must be in [1, 16777216], got 4611686018427387904");
  CHECK(error_of("train:\n  batch_size: 4294967296\n") ==
        "t.yaml:2: train.batch_size: must be in [1, 16777216], got 4294967296");
  CHECK(error_of("model:\n  num_experts: 100000\n") == "t.yaml:2: model.num_experts: must be in [1, 65536], got 100000");
  CHECK(error_of("model:\n  expert_hidden_mult: 1e300\n") ==
        "t.yaml:2: model.expert_hidden_mult: must be in (0, 1024], got 1e+300");
  // Past int64 altogether: the project's words, not stoll's.
  CHECK(error_of("seed: 18446744073709551616\n") == "t.yaml:1: seed: expected an integer, got '18446744073709551616'");
}

TEST_CASE("a run that cannot fit in memory is refused at load, with the estimate", "[train][config]") {
  // Each is in range and far beyond any machine's memory; none may allocate.
  for (const std::string& yaml : {std::string("model:\n  dim: 100000\n"), std::string("data:\n  train_size: 1000000000000\n"),
                                  std::string("model:\n  dim: 8000\n  num_experts: 64\n")}) {
    const std::string e = error_of(yaml);
    CHECK_THAT(e, Catch::Contains("needs an estimated") && Catch::Contains("is available") &&
                      Catch::Contains("parameters and optimizer state"));
  }
  CHECK_THAT(error_of("model:\n  dim: 100000\n"), Catch::StartsWith("t.yaml:2: model.dim: this run ("));
  CHECK_THAT(error_of("data:\n  train_size: 1000000000000\n"), Catch::StartsWith("t.yaml:2: data.train_size: this run ("));
  // The shipped default estimates well under a gigabyte.
  CHECK(estimate_memory(parse_config("", "t.yaml")).total_bytes() < (int64_t{1} << 30));
}

TEST_CASE("non-finite numbers are refused for every float key", "[train][config]") {
  for (const char* key : {"optim:\n  lr", "model:\n  noise_mult", "model:\n  balance_loss_coef",
                          "model:\n  router_z_loss_coef", "data:\n  cluster_std", "optim:\n  weight_decay",
                          "optim:\n  momentum", "optim:\n  schedule:\n    gamma", "optim:\n  eps",
                          "model:\n  capacity_factor_train", "model:\n  capacity_factor_eval"}) {
    for (const char* v : {".inf", "-.inf", ".nan"}) {
      const std::string e = error_of(std::string(key) + ": " + v + "\n");
      CHECK_THAT(e, Catch::Contains("expected a finite number, got '" + std::string(v) + "'"));
    }
  }
  CHECK_THAT(error_of("model:\n  threshold_train: [.inf]\n  top_n: 2\n"),
             Catch::Contains("t.yaml:2: model.threshold_train[0]: expected a finite number"));
  CHECK_THAT(error_of("optim:\n  betas: [0.9, .nan]\n"), Catch::Contains("t.yaml:2: optim.betas[1]"));
  // A huge finite capacity factor means "the whole group", not the minimum of 4.
  moe::TopNGatingOptions g{.dim = 4, .num_gates = 8, .capacity_factor_train = 1e18};
  CHECK(g.capacity(64, true) == 64);
  g.capacity_factor_train = 6e17;
  CHECK(g.capacity(1000, true) == 1000);
}

TEST_CASE("duplicate keys and second documents are errors with their line", "[train][config]") {
  CHECK(error_of("optim:\n  lr: 0.1\n  lr: 0.2\n") == "t.yaml:3: optim.lr: is given twice (first at line 2)");
  CHECK(error_of("optim:\n  lr: 0.1\ntrain:\n  steps: 3\noptim:\n  lr: 0.5\n") ==
        "t.yaml:5: optim: is given twice (first at line 1)");
  CHECK(error_of("seed: 1\n---\nseed: 2\n") ==
        "t.yaml:3: (file): a second YAML document (after '---') would be ignored; a config is one document");
}

TEST_CASE("errors inside lists, from --set and after train.steps point at the right place", "[train][config]") {
  CHECK(error_of("model:\n  top_n: 3\n  threshold_train:\n    - 0.2\n    - -1\n") ==
        "t.yaml:5: model.threshold_train[1]: must be >= 0, got -1");
  CHECK(error_of("optim:\n  schedule:\n    kind: warmup_cosine\n    warmup_steps: 10\n", {"train.steps=0"}) ==
        "--set train.steps: train.steps: must be in [1, 1099511627776], got 0");
  CHECK(error_of("optim:\n  lr: 0.1\n", {"optim.lr=-2"}) == "--set optim.lr: optim.lr: must be positive, got -2");
  CHECK_THAT(error_of("model:\n  top_n: 3\n", {"model.threshold_train=[0.2, -0.3]"}),
             Catch::StartsWith("--set model.threshold_train: model.threshold_train[1]: must be >= 0"));
  // A 50 MB value is not echoed back.
  const std::string huge(50 << 20, 'x');
  const std::string e = error_of("model:\n  kind: " + huge + "\n");
  CHECK(e.size() < 300);
  CHECK_THAT(e, Catch::Contains("... (52428800 characters)"));
}

TEST_CASE("the config file must be a regular file of bounded size", "[train][config]") {
  const fs::path d = test::fresh_dir("config_files");
  fs::create_directories(d);
  CHECK(load_error(d.string()) == d.string() + ": (file): is a directory, expected a regular file");
  CHECK_THAT(load_error("/proc/self/mem"), Catch::StartsWith("/proc/self/mem: (file): cannot be read"));
  CHECK(load_error("/dev/zero") == "/dev/zero: (file): is a character device, expected a regular file");
  const fs::path fifo = d / "fifo.yaml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(load_error(fifo.string()) == fifo.string() + ": (file): is a pipe (FIFO), expected a regular file");
  const fs::path sparse = d / "sparse.yaml";
  fs::resize_file((std::ofstream(sparse), sparse), uintmax_t{50} << 30);
  CHECK_THAT(load_error(sparse.string()), Catch::Contains("larger than the limit of 16.0 MiB"));
  // And the binary exits 2 on each instead of training the defaults.
  CHECK(test::run_moegrad({"train", d.string(), "--out", (d / "run").string()}) == 2);
  CHECK(!fs::exists(d / "run"));
  fs::remove_all(d);
}

TEST_CASE("a bad data.path is a config error naming data.path", "[train][config]") {
  const fs::path d = test::fresh_dir("data_path");
  fs::create_directories(d);
  const std::string lm = "model:\n  kind: moe_lm\ndata:\n  task: char_lm\n  seq_len: 16\n  path: ";
  CHECK(error_of(lm + (d / "missing.txt").string() + "\n") ==
        "t.yaml:6: data.path: '" + (d / "missing.txt").string() + "' does not exist");
  std::ofstream(d / "empty.txt").flush();
  CHECK(error_of(lm + (d / "empty.txt").string() + "\n") ==
        "t.yaml:6: data.path: '" + (d / "empty.txt").string() + "' is empty");
  std::ofstream(d / "short.txt") << "just a little text";
  CHECK_THAT(error_of(lm + (d / "short.txt").string() + "\n"),
             Catch::StartsWith("t.yaml:6: data.path: '" + (d / "short.txt").string() + "': the train split has 17 characters"));
  CHECK(error_of(lm + d.string() + "\n") == "t.yaml:6: data.path: '" + d.string() + "' is not a regular file");
  CHECK(error_of(lm + "/dev/zero\n") == "t.yaml:6: data.path: '/dev/zero' is not a regular file");
  fs::remove_all(d);
}

TEST_CASE("the --set list example of configs/README.md is accepted", "[train][config]") {
  const std::string readme = read_file(MOEGRAD_SOURCE_DIR "/configs/README.md");
  const std::string example = "--set model.top_n=3 --set model.threshold_train=[0.2,0.3]";
  REQUIRE_THAT(readme, Catch::Contains(example));
  Config c = parse_config("", "t.yaml", {"model.top_n=3", "model.threshold_train=[0.2,0.3]"});
  CHECK(std::get<std::vector<double>>(c.model.threshold_train) == std::vector<double>{0.2, 0.3});
}
