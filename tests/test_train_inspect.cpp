// `moegrad inspect` on a trained checkpoint, and the demand the metrics records now carry.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "moegrad/train/config.h"
#include "run_helpers.h"

using namespace moegrad;
using namespace moegrad::test;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
int64_t sum(const json& a) {
  int64_t s = 0;
  for (const auto& v : a) s += v.get<int64_t>();
  return s;
}

// Invariants of one layer's entry, whatever the weights.
void check_layer(const json& l, int64_t tokens, int64_t experts, int64_t clusters) {
  CHECK(l["tokens"] == tokens);
  REQUIRE(l["tokens_per_expert"].size() == static_cast<size_t>(experts));
  REQUIRE(l["demand_per_expert"].size() == static_cast<size_t>(experts));
  CHECK(sum(l["tokens_per_expert"]) == sum(l["kept_per_choice"]));
  CHECK(sum(l["demand_per_expert"]) == sum(l["routed_per_choice"]));
  for (int64_t e = 0; e < experts; ++e) {
    CHECK(l["demand_per_expert"][e].get<int64_t>() >= l["tokens_per_expert"][e].get<int64_t>());
    // No expert keeps more than its capacity in each group.
    CHECK(l["tokens_per_expert"][e].get<int64_t>() <= l["capacity"].get<int64_t>() * l["groups"].get<int64_t>());
  }
  CHECK(l["routed_per_choice"][0] == tokens);  // the first choice always routes
  REQUIRE(l["cluster_expert_counts"].size() == static_cast<size_t>(clusters));
  int64_t firsts = 0;
  for (const auto& row : l["cluster_expert_counts"]) firsts += sum(row);
  CHECK(firsts == tokens);
}
}  // namespace

TEST_CASE("inspect reports each MoE layer's routing of a trained checkpoint", "[train][inspect]") {
  const fs::path run = fresh_dir("inspect_run"), io = fresh_dir("inspect_io");
  const train::TrainSummary s = train_here(tiny_toy(3), run.string());
  // tiny_toy: batches of 16 tokens, 4 experts, one eval batch; toy_moe: 8 clusters, 2 layers.
  RunResult r = run_moegrad_capture({"inspect", s.last_checkpoint, "--json"}, io);
  INFO(r.err);
  REQUIRE(r.status == 0);
  json j = json::parse(r.out);
  CHECK(j["source"] == s.last_checkpoint);
  CHECK(j["step"] == 3);
  CHECK(j["routing"] == "eval");
  CHECK(j["batches"] == 1);
  REQUIRE(j["layers"].size() == 2);
  for (const auto& l : j["layers"]) {
    check_layer(l, 16, 4, 8);
    CHECK(l["capacity"] == 8);  // eval: max(min(16, floor(16 * 2 / 4)), 4)
  }

  // Training routing over three batches: capacity_factor_train 1.25 gives max(5, 4) = 5.
  r = run_moegrad_capture({"inspect", s.last_checkpoint, "--json", "--train-routing", "--batches", "3"}, io);
  REQUIRE(r.status == 0);
  j = json::parse(r.out);
  CHECK(j["routing"] == "train");
  for (const auto& l : j["layers"]) {
    check_layer(l, 48, 4, 8);
    CHECK(l["capacity"] == 5);
  }

  // The text form: one table per layer, with the same totals as the JSON.
  r = run_moegrad_capture({"inspect", s.last_checkpoint}, io);
  REQUIRE(r.status == 0);
  for (const char* part : {"MoE layer 0:", "MoE layer 1:", "expert  kept  demand  dropped", "choice  routed  kept",
                           "drop rate", "router entropy", "tokens of each cluster by their first choice's expert"})
    CHECK_THAT(r.out, Catch::Contains(part));

  // A plain state dict with the config it records, as eval takes it.
  const std::string weights = (io / "w.safetensors").string();
  REQUIRE(run_moegrad({"export", s.last_checkpoint, "--out", weights}) == 0);
  r = run_moegrad_capture({"inspect", "--weights", weights, "--json"}, io);
  REQUIRE(r.status == 0);
  const json from_weights = json::parse(r.out);
  CHECK(from_weights["layers"] == json::parse(run_moegrad_capture({"inspect", s.last_checkpoint, "--json"}, io).out)["layers"]);

  // The metrics records carry the demand beside the kept tokens.
  std::ifstream metrics(run / "metrics.jsonl");
  int checked = 0;
  for (std::string line; std::getline(metrics, line);) {
    const json rec = json::parse(line);
    if (rec["kind"] != "train") continue;
    for (const auto& l : rec["layers"]) {
      REQUIRE(l["demand_per_expert"].size() == 4);
      for (int e = 0; e < 4; ++e) CHECK(l["demand_per_expert"][e] >= l["tokens_per_expert"][e]);
      CHECK(sum(l["demand_per_expert"]) == sum(l["routed_per_choice"]));
      ++checked;
    }
  }
  CHECK(checked == 6);  // 3 steps x 2 layers
  fs::remove_all(run);
  fs::remove_all(io);
}

TEST_CASE("inspect refuses what it cannot inspect, as eval does", "[train][inspect]") {
  const fs::path io = fresh_dir("inspect_bad");
  fs::create_directories(io);
  // Missing, then damaged: the same exit status as eval, and a message naming the file.
  const std::string missing = (io / "none.safetensors").string(), damaged = (io / "bad.safetensors").string();
  std::ofstream(damaged) << "not a checkpoint";
  for (const std::string& file : {missing, damaged}) {
    CAPTURE(file);
    const RunResult eval = run_moegrad_capture({"eval", "--checkpoint", file}, io / "eval");
    const RunResult r = run_moegrad_capture({"inspect", file}, io / "inspect");
    CHECK(r.status != 0);
    CHECK(r.status == eval.status);
    CHECK_THAT(r.err, Catch::Contains(file));
    CHECK(r.out.empty());
  }
  // Neither a checkpoint nor --weights, or both.
  RunResult r = run_moegrad_capture({"inspect"}, io);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("give one of a CHECKPOINT or --weights"));
  r = run_moegrad_capture({"inspect", missing, "--weights", missing}, io);
  CHECK(r.status == 2);
  r = run_moegrad_capture({"inspect", missing, "--batches", "0"}, io);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--batches"));

  // A dense model has no routing.
  const fs::path dense = io / "dense";
  const train::TrainSummary s =
      train_here(tiny_toy(2), dense.string(), "", nullptr, std::string(MOEGRAD_SOURCE_DIR) + "/configs/dense_baseline.yaml");
  r = run_moegrad_capture({"inspect", s.last_checkpoint}, io);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("model.kind: mlp_dense has no MoE layers"));
  fs::remove_all(io);
}
