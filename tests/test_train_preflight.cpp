// check-config's pre-flight (train/preflight.h) and --force: what a config asks of the
// machine is printed as YAML comments that leave the resolved config loadable, and a memory
// refusal can be overruled, with a warning, only when asked.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/train/config.h"
#include "moegrad/train/model.h"
#include "moegrad/train/model_kind.h"
#include "moegrad/train/preflight.h"
#include "moegrad/train/task.h"
#include "run_helpers.h"

using namespace moegrad;
using namespace moegrad::train;
using namespace moegrad::test;
namespace fs = std::filesystem;

namespace {
const std::string kLm = std::string(MOEGRAD_SOURCE_DIR) + "/configs/char_lm.yaml";

// A capacity factor typo on a large batch of many experts: every expert gets room for all
// 65536 tokens of the group, which needs terabytes of activations (about 1.9 TiB); with the
// default factor it would be a few GiB.
const std::string kCapacityTypo =
    "model:\n  num_experts: 4096\n  capacity_factor_train: 100000\ndata:\n  train_size: 65536\n"
    "train:\n  batch_size: 65536\n";

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }
}  // namespace

TEST_CASE("check-config's output is the resolved config, then the pre-flight as comments", "[train][preflight]") {
  const fs::path d = fresh_dir("preflight_toy");
  const RunResult r = run_moegrad_capture({"check-config", kToyConfig}, d);
  REQUIRE(r.status == 0);
  const Config c = load_config(kToyConfig);
  // The comments follow the YAML, which loads back to the same config.
  CHECK_THAT(r.out, Catch::StartsWith(to_yaml(c) + "\n# pre-flight"));
  write(d / "resolved.yaml", r.out);
  CHECK(to_yaml(load_config((d / "resolved.yaml").string())) == to_yaml(c));

  // toy_moe: 2 MoE layers, one group of the batch's 128 tokens, 8 experts, top-2:
  // capacity max(min(128, floor(128 * 1.25 / 8)), 4) = 20 in training, floor(128 * 2 / 8) = 32
  // in eval, and 128 * 2 / 8 = 32 choices expected per expert.
  CHECK_THAT(r.out, Catch::Contains("# MoE layers: each routes 1 group of 128 tokens per training batch"));
  CHECK_THAT(r.out, Catch::Contains("#   layer  capacity train  capacity eval  expected tokens per expert\n"
                                    "#       0              20             32                          32\n"
                                    "#       1              20             32                          32\n"));
  // The README's parameter counts of the toy model.
  CHECK_THAT(r.out, Catch::Contains("# parameters: 68720, active per token: 18440\n"));
  CHECK_THAT(r.out, Catch::Contains("# a training step's peak memory: ") && Catch::Contains("available: "));
  fs::remove_all(d);
}

TEST_CASE("the pre-flight's routing groups are the ones the model routes", "[train][preflight]") {
  // clusters: one group of batch_size tokens; char_lm: batch_size groups of seq_len tokens.
  for (const std::string& path : {kToyConfig, kLm}) {
    CAPTURE(path);
    const Config c = load_config(path, {"train.batch_size=6", "model.dim=16"});
    const ModelKindSpec& kind = find_model_kind(c.model.kind);
    REQUIRE(kind.routing_groups);
    const RoutingGroups g = kind.routing_groups(c);
    Generator gen(0);
    std::unique_ptr<Task> task = make_task(c, DType::f32);
    std::unique_ptr<TrainModel> model = make_model(c, task->vocab_size(), gen, DType::f32);
    Generator data(1), route(2);
    moe::GatingCall call;
    call.gen = &route;
    NoGradGuard no_grad;
    const ModelOutput out = model->forward(task->train_batch(c.train.batch_size, data), call);
    REQUIRE(static_cast<int64_t>(out.layers.size()) == g.layers);
    const moe::Routing& r = out.layers[0].routing;
    CHECK(r.indices.size(1) == g.groups);
    CHECK(r.indices.size(2) == g.tokens);
    CHECK(r.capacity == c.model.block().moe.gating().capacity(g.tokens, /*training=*/true));
  }
  // The dense baseline has no MoE lines; its parameters are all active.
  const Config dense = load_config(std::string(MOEGRAD_SOURCE_DIR) + "/configs/dense_baseline.yaml");
  CHECK_THAT(preflight_comments(dense), !Catch::Contains("MoE") && Catch::Contains("# parameters: 18062, active per token: 18062\n"));
}

TEST_CASE("a config too large for memory is refused naming the key and the estimate, unless --force",
          "[train][preflight][memory]") {
  const fs::path d = fresh_dir("preflight_force");
  fs::create_directories(d);
  const fs::path config = d / "typo.yaml";
  write(config, kCapacityTypo);

  // Refused by the loader, by check-config and by train, naming the key's line and the estimate.
  try {
    load_config(config.string());
    FAIL("a config needing terabytes loaded");
  } catch (const ConfigFileError& e) {
    CHECK_THAT(e.what(), Catch::StartsWith(config.string() + ":3: model.capacity_factor_train: this run (") &&
                             Catch::Contains("needs an estimated") &&
                             Catch::Contains("available") && Catch::Contains("--force"));
  }
  RunResult r = run_moegrad_capture({"check-config", config.string()}, d / "io");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("model.capacity_factor_train: this run (") && Catch::Contains("needs an estimated"));
  CHECK(r.out.empty());

  // --force: the resolved config and its pre-flight, and a warning on stderr with the
  // estimate and what is available.
  r = run_moegrad_capture({"check-config", config.string(), "--force"}, d / "io");
  CHECK(r.status == 0);
  CHECK_THAT(r.err, Catch::StartsWith("warning (--force): " + config.string() + ":3: model.capacity_factor_train: ") &&
                        Catch::Contains("needs an estimated") && Catch::Contains("but only") &&
                        Catch::Contains("going on as asked"));
  CHECK_THAT(r.out, Catch::Contains("capacity_factor_train: 1e+05") &&
                        Catch::Contains("#       0           65536             32                          32"));

  // train takes --force to the same loader: the warning, then the run stops for a reason of
  // its own (--out is a file), before anything is allocated.
  const fs::path file = d / "a_file";
  write(file, "x");
  r = run_moegrad_capture({"train", config.string(), "--out", file.string()}, d / "io");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("model.capacity_factor_train: this run ("));
  r = run_moegrad_capture({"train", config.string(), "--out", file.string(), "--force"}, d / "io");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::StartsWith("warning (--force): ") && Catch::Contains("is a file, not a folder"));

  // In the library: the warning goes to the stream given.
  std::ostringstream warnings;
  const Config c = load_config(config.string(), {}, {.force = true, .warnings = &warnings});
  CHECK(c.model.moe_block.moe.capacity_factor_train == 100000);
  CHECK_THAT(warnings.str(), Catch::Contains("model.capacity_factor_train") && Catch::Contains("needs an estimated"));
  // --force overrules only the machine's limits, never a bad value.
  try {
    load_config(config.string(), {"model.top_n=9000"}, {.force = true, .warnings = &warnings});
    FAIL("top_n > num_experts loaded");
  } catch (const ConfigFileError& e) {
    CHECK_THAT(e.what(), Catch::Contains("model.top_n"));
  }
  fs::remove_all(d);
}
