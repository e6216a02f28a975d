// Config validation: every problem is reported with the file, the line, the key path and
// what was expected, before anything runs.
#include <catch2/catch.hpp>

#include <filesystem>

#include <fstream>

#include "config_errors.h"
#include "run_helpers.h"
#include "moegrad/train/config.h"

using namespace moegrad;
using namespace moegrad::train;

namespace {
using test::error_of;
}  // namespace

TEST_CASE("config errors name the file, line, key and expectation", "[train][config]") {
  CHECK(error_of("model:\n  dim: 8\n  dimm: 3\n") == "t.yaml:3: model.dimm: unknown key");
  CHECK(error_of("seed: 1\nmodle:\n  dim: 3\n") == "t.yaml:2: modle: unknown key");
  CHECK(error_of("train:\n  steps: many\n") == "t.yaml:2: train.steps: expected an integer in [1, 1099511627776], got 'many'");
  CHECK(error_of("train:\n  steps: 1.5\n") == "t.yaml:2: train.steps: expected an integer in [1, 1099511627776], got '1.5'");
  CHECK(error_of("model:\n  straight_through_dispatch_tensor: maybe\n") ==
        "t.yaml:2: model.straight_through_dispatch_tensor: expected true or false, got 'maybe'");
  CHECK(error_of("optim:\n  lr: -1\n") == "t.yaml:2: optim.lr: must be a finite number > 0, got -1");
  CHECK(error_of("model:\n  num_experts: 4\n  top_n: 5\n") ==
        "t.yaml:3: model.top_n: must be in [1, num_experts=4], got 5");
  CHECK(error_of("model:\n  top_n: 3\n  threshold_train: [0.2]\n") ==
        "t.yaml:3: model.threshold_train: a list must have top_n - 1 = 2 entries, got 1");
  CHECK(error_of("model:\n  kind: moe_lm\n") == "t.yaml: data.task: model.kind moe_lm needs task char_lm");
  CHECK(error_of("model:\n  kind: transformer\n") ==
        "t.yaml:2: model.kind: must be one of mlp_moe, mlp_dense, moe_lm, got 'transformer'");
  CHECK(error_of("model:\n  router:\n    mechanism: argmax\n") ==
        "t.yaml:3: model.router.mechanism: must be one of softmax, gumbel, got 'argmax'");
  CHECK(error_of("optim:\n  betas: [0.9]\n") == "t.yaml:2: optim.betas: expected a list of two numbers [beta1, beta2]");
  CHECK(error_of("device: gpu\n") == "t.yaml:1: device: must be cpu, cuda or cuda:N, got 'gpu'");
  CHECK(error_of("device: cuda:x\n") == "t.yaml:1: device: must be cpu, cuda or cuda:N, got 'cuda:x'");
  // The spelling is all a config's text is checked for: a checkpoint's embedded config
  // written on a GPU machine parses anywhere.
  CHECK(error_of("device: cuda:1\n") == "");
  CHECK(error_of("model: 3\n") == "t.yaml:1: model: expected a mapping of keys to values");
  CHECK_THAT(error_of("model:\n  dim: [1\n"), Catch::StartsWith("t.yaml:3: (syntax): "));
  CHECK(error_of("train:\n  batch_size: 9000\n") ==
        "t.yaml:2: train.batch_size: must not exceed data.train_size=8192, got 9000");
}

TEST_CASE("overrides given with --set are applied and located", "[train][config]") {
  Config c = parse_config("model:\n  dim: 8\n", "t.yaml", {"model.dim=16", "optim.schedule.kind=step", "seed=7"});
  CHECK(c.model.dim == 16);
  CHECK(c.optim.schedule.kind == "step");
  CHECK(c.seed == 7);
  CHECK(error_of("", {"model.top_n=9"}) == "--set model.top_n: model.top_n: must be in [1, num_experts=8], got 9");
  CHECK(error_of("", {"model.bogus=1"}) == "--set model.bogus: model.bogus: unknown key");
  CHECK(error_of("", {"nonsense"}) == "--set nonsense: nonsense: expected key.path=value");
  CHECK(error_of("model:\n  dim: 8\n", {"model.dim.x=1"}) == "--set model.dim.x: model.dim.x: 'dim' is not a section");
}

TEST_CASE("a rule between keys broken by --set names the --set as well as the other key's place", "[train][config]") {
  CHECK(error_of("data:\n  task: clusters\n", {"model.kind=moe_lm"}) ==
        "--set model.kind, t.yaml:2: data.task: model.kind moe_lm needs task char_lm");
  CHECK(error_of("optim:\n  schedule:\n    kind: warmup_cosine\n    warmup_steps: 10\n", {"train.steps=5"}) ==
        "--set train.steps, t.yaml:4: optim.schedule.warmup_steps: must be in [0, train.steps=5), got 10");
  // warmup_cosine's keys mean nothing under another schedule, so they break no rule there.
  CHECK(error_of("optim:\n  schedule:\n    kind: constant\n    warmup_steps: 10\n", {"train.steps=5"}).empty());
  CHECK(error_of("model:\n  top_n: 3\n", {"model.num_experts=2"}) ==
        "--set model.num_experts, t.yaml:2: model.top_n: must be in [1, num_experts=2], got 3");
  CHECK(error_of("train:\n  batch_size: 64\n", {"data.train_size=32"}) ==
        "--set data.train_size, t.yaml:2: train.batch_size: must not exceed data.train_size=32, got 64");
  // Both keys in the file: the key's own line, as before.
  CHECK(error_of("optim:\n  lr: 0.1\n  schedule:\n    kind: warmup_cosine\n    min_lr: 0.5\n") ==
        "t.yaml:5: optim.schedule.min_lr: must be in [0, optim.lr], got 0.5");
}

TEST_CASE("the resolved config reads back to the same config", "[train][config]") {
  Config c = parse_config("model:\n  top_n: 3\n  threshold_train: [0.1, 0.3]\n  router:\n    hidden_layers: [4, 5]\n"
                          "    mechanism: gumbel\noptim:\n  name: sgd\n  momentum: 0.9\n  nesterov: true\n",
                          "t.yaml");
  const std::string yaml = to_yaml(c);
  Config back = parse_config(yaml, "resolved.yaml");
  CHECK(to_yaml(back) == yaml);
  CHECK(std::get<std::vector<double>>(back.model.moe_block.moe.threshold_train) == std::vector<double>{0.1, 0.3});
  CHECK(back.model.moe_block.moe.router.has_value());
  CHECK(back.optim.name == "sgd");
  CHECK_THAT(yaml, Catch::Contains("dispatch: indexed") && Catch::Contains("keep_last: 3"));
}

TEST_CASE("numbers are written back in their shortest form that reads back exactly", "[train][config]") {
  const double awkward = 0.1 + 0.2;  // 0.30000000000000004: needs all 17 digits
  Config c = parse_config("optim:\n  lr: 0.003\n  betas: [0.9, 0.999]\n  eps: 1e-08\n  schedule:\n    kind: warmup_cosine\n"
                          "model:\n  threshold_train: [0.2]\n  top_n: 2\n  noise_mult: 0.30000000000000004\n",
                          "t.yaml");
  const std::string yaml = to_yaml(c);
  CHECK_THAT(yaml, Catch::Contains("lr: 0.003\n") && Catch::Contains("betas: [0.9, 0.999]") &&
                       Catch::Contains("eps: 1e-08\n") && Catch::Contains("threshold_train: [0.2]") &&
                       Catch::Contains("noise_mult: 0.30000000000000004\n") && Catch::Contains("min_lr: 0\n"));
  CHECK_THAT(yaml, !Catch::Contains("0000000001"));
  Config back = parse_config(yaml, "resolved.yaml");
  CHECK(back.optim.lr == 0.003);
  CHECK(back.optim.eps == 1e-8);
  CHECK(back.model.noise_mult == awkward);
}

TEST_CASE("every shipped config loads", "[train][config]") {
  for (const char* name : {"toy_moe", "dense_baseline", "router_gumbel", "char_lm"}) {
    INFO(name);
    Config c = load_config(std::string(MOEGRAD_SOURCE_DIR) + "/configs/" + name + ".yaml");
    CHECK(c.train.steps > 0);
  }
  CHECK_THROWS_WITH(load_config("/nonexistent.yaml"), "/nonexistent.yaml: (file): cannot be read: No such file or directory");
}

TEST_CASE("a config file naming a device this machine lacks is refused when loaded, saying why", "[train][config]") {
  const auto dir = test::fresh_dir("config_device");
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "gpu.yaml").string();
  std::ofstream(path) << "device: cuda:3\n";
  const std::string why = device_unavailable_reason(Device::cuda(3));
  REQUIRE(!why.empty());  // no machine here has four GPUs
  try {
    load_config(path, {});
    FAIL("loaded");
  } catch (const ConfigFileError& e) {
    CHECK(std::string(e.what()) == path + ": device: " + why);
  }
  try {
    load_config(path, {"device=cuda:7"});
    FAIL("loaded");
  } catch (const ConfigFileError& e) {
    CHECK(std::string(e.what()) == "--set device: device: " + device_unavailable_reason(Device::cuda(7)));
  }
  CHECK(load_config(path, {"device=cpu"}).device == "cpu");
  std::filesystem::remove_all(dir);
}

TEST_CASE("the resolved config leaves out the keys that do not apply to its kinds", "[train][config]") {
  const std::string lm = to_yaml(parse_config("model:\n  kind: moe_lm\ndata:\n  task: char_lm\n", "t.yaml"));
  CHECK_THAT(lm, Catch::Contains("heads: 4") && Catch::Contains("seq_len: 64") && Catch::Contains("top_n: 2"));
  CHECK_THAT(lm, !Catch::Contains("num_clusters") && !Catch::Contains("hidden_mult: 4") &&
                     !Catch::Contains("momentum") && !Catch::Contains("step_size"));
  const std::string dense = to_yaml(parse_config("model:\n  kind: mlp_dense\noptim:\n  name: sgd\n  momentum: 0.9\n"
                                                 "  schedule:\n    kind: step\n",
                                                 "t.yaml"));
  CHECK_THAT(dense, Catch::Contains("hidden_mult: 4") && Catch::Contains("momentum: 0.9") &&
                        Catch::Contains("step_size: 1") && Catch::Contains("num_clusters: 8"));
  CHECK_THAT(dense, !Catch::Contains("num_experts") && !Catch::Contains("heads") && !Catch::Contains("betas") &&
                        !Catch::Contains("warmup_steps") && !Catch::Contains("seq_len"));
  // Such keys are still read and checked, and a config that gives them reads the same.
  CHECK_THROWS_WITH(parse_config("model:\n  heads: 0\n", "t.yaml"), Catch::Contains("model.heads"));
  CHECK(to_yaml(parse_config("model:\n  heads: 8\n", "t.yaml")) == to_yaml(parse_config("", "t.yaml")));
}

TEST_CASE("a key under the reference's name is an error naming ours", "[train][config]") {
  try {
    parse_config("model:\n  gating_top_n: 1\n", "t.yaml");
    FAIL("gating_top_n was accepted");
  } catch (const ConfigFileError& e) {
    CHECK(std::string(e.what()) == "t.yaml:2: model.gating_top_n: is called model.top_n here");
  }
}

TEST_CASE("a config extends another: its keys on top, each error located in the file that gave the key",
          "[train][config]") {
  namespace fs = std::filesystem;
  const fs::path dir = test::fresh_dir("config_extends");
  fs::create_directories(dir / "sub");
  auto write = [](const fs::path& p, const std::string& text) { std::ofstream(p) << text; };
  write(dir / "base.yaml", "model:\n  dim: 24\n  num_experts: 6\ntrain:\n  steps: 77\n");
  write(dir / "sub" / "child.yaml", "extends: ../base.yaml\nmodel:\n  num_experts: 4\n");
  const Config c = load_config((dir / "sub" / "child.yaml").string());
  CHECK(c.model.dim == 24);                              // from the base
  CHECK(c.model.moe_block.moe.num_experts == 4);         // the child's, on top
  CHECK(c.train.steps == 77);
  // A chain: the grandchild's keys win over both.
  write(dir / "grand.yaml", "extends: sub/child.yaml\nmodel:\n  dim: 8\n");
  const Config g = load_config((dir / "grand.yaml").string(), {"train.steps=5"});
  CHECK(g.model.dim == 8);
  CHECK(g.model.moe_block.moe.num_experts == 4);
  CHECK(g.train.steps == 5);

  auto error = [](const fs::path& p) -> std::string {
    try {
      load_config(p.string());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  // A bad key is blamed on the line of the file that gave it.
  write(dir / "bad_base.yaml", "model:\n  dim: 0\n");
  write(dir / "child_of_bad.yaml", "extends: bad_base.yaml\nmodel:\n  num_experts: 4\n");
  CHECK(error(dir / "child_of_bad.yaml") ==
        (dir / "bad_base.yaml").string() + ":2: model.dim: expected an integer in [1, 65536], got '0'");
  write(dir / "bad_child.yaml", "extends: base.yaml\nmodel:\n  num_experts: 0\n");
  CHECK(error(dir / "bad_child.yaml") ==
        (dir / "bad_child.yaml").string() + ":3: model.num_experts: expected an integer in [1, 4096], got '0'");
  // Loops, missing files and a non-name are refused at the extends line.
  write(dir / "a.yaml", "extends: b.yaml\n");
  write(dir / "b.yaml", "seed: 1\nextends: a.yaml\n");
  CHECK_THAT(error(dir / "a.yaml"), Catch::Contains("b.yaml:2: extends: '") && Catch::Contains("a loop"));
  write(dir / "lost.yaml", "extends: nowhere.yaml\n");
  CHECK_THAT(error(dir / "lost.yaml"), Catch::StartsWith((dir / "lost.yaml").string() + ":1: extends: ") &&
                                          Catch::Contains("nowhere.yaml"));
  write(dir / "list.yaml", "extends: [a.yaml]\n");
  CHECK(error(dir / "list.yaml") == (dir / "list.yaml").string() + ":1: extends: expected a config file name");
  fs::remove_all(dir);
}

TEST_CASE("one expert per token with renormalised gates is refused, or warned about with --force", "[train][config]") {
  CHECK(error_of("model:\n  top_n: 1\n") ==
        "t.yaml:2: model.top_n: 1 with model.renormalize_gates: true makes every gate identically 1, so the router "
        "gets no gradient from the main loss (jingyaogong/minimind#858); set model.renormalize_gates: false "
        "(Switch's top-1); --force overrules this");
  CHECK(error_of("model:\n  top_n: 1\n  renormalize_gates: false\n").empty());
  CHECK(error_of("model:\n  top_n: 1\n  routing: expert_choice\n").empty());  // top_n does not apply there
  std::ostringstream warnings;
  LoadOptions force;
  force.force = true;
  force.warnings = &warnings;
  const Config c = parse_config("model:\n  top_n: 1\n", "t.yaml", {}, force);
  CHECK(c.model.moe_block.moe.top_n == 1);
  CHECK_THAT(warnings.str(), Catch::StartsWith("warning (--force): t.yaml:2: model.top_n: 1 with"));
}
