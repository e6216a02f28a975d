// The routing statistics of `moegrad inspect` and of the metrics records (train/routing_report.h),
// on a routing worked out by hand and on TopNGating's own.
#include <catch2/catch.hpp>

#include <cmath>

#include "moegrad/core/core.h"
#include "moegrad/moe/top_n_gating.h"
#include "moegrad/train/routing_report.h"

using namespace moegrad;
using namespace moegrad::train;

namespace {
// k = 2 choices, b = 1 group, n = 4 tokens, e = 3 experts, capacity 2.
//   choice 0: experts 0 0 1 2, all routed, all kept (each expert at most 2).
//   choice 1: experts 1 2 0 0, token 1's not routed (threshold); token 0's fits expert 1
//   (its second slot), tokens 2 and 3 find expert 0 full: dropped.
moe::Routing hand_routing() {
  moe::Routing r;
  r.capacity = 2;
  r.indices = from_vector(std::vector<int64_t>{0, 0, 1, 2, 1, 2, 0, 0}, {2, 1, 4});
  r.routed = core::to(from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 0, 1, 1}, {2, 1, 4}), DType::b8);
  r.kept = core::to(from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 0, 0, 0}, {2, 1, 4}), DType::b8);
  // Entropies 0, ln 2, ln 3 and 1.5 ln 2.
  r.raw_gates = from_vector(std::vector<double>{1, 0, 0, 0.5, 0.5, 0, 1 / 3., 1 / 3., 1 / 3., 0.25, 0.25, 0.5},
                            {1, 4, 3});
  return r;
}
const double kHandEntropy = (2.5 * std::log(2.0) + std::log(3.0)) / 4;
}  // namespace

TEST_CASE("routing stats of a hand-made routing: kept, demand, drops per choice, entropy", "[train][routing]") {
  LayerRoutingStats s;
  s.add(hand_routing());
  CHECK(s.kept_per_expert == std::vector<int64_t>{2, 2, 1});
  // Demand counts the routed choices dropped for capacity too: expert 0 was asked 4 times.
  CHECK(s.demand_per_expert == std::vector<int64_t>{4, 2, 1});
  CHECK(s.routed_per_choice == std::vector<int64_t>{4, 3});
  CHECK(s.kept_per_choice == std::vector<int64_t>{4, 1});
  const std::vector<double> drop = s.drop_rate_per_choice();
  REQUIRE(drop.size() == 2);
  CHECK(drop[0] == 0.0);
  CHECK(drop[1] == Approx(2.0 / 3.0));
  CHECK(s.dropped_fraction() == Approx(2.0 / 7.0));
  CHECK(s.routing_entropy() == Approx(kHandEntropy));
  CHECK(s.tokens == 4);
  CHECK(s.groups == 1);
  CHECK(s.capacity == 2);
  CHECK(s.first_choice_by_label.empty());

  // A second batch adds counts; rates and the mean entropy stay.
  s.add(hand_routing());
  CHECK(s.kept_per_expert == std::vector<int64_t>{4, 4, 2});
  CHECK(s.demand_per_expert == std::vector<int64_t>{8, 4, 2});
  CHECK(s.drop_rate_per_choice()[1] == Approx(2.0 / 3.0));
  CHECK(s.routing_entropy() == Approx(kHandEntropy));
  CHECK(s.tokens == 8);
  CHECK(s.groups == 2);
}

TEST_CASE("routing stats count first choices by cluster label", "[train][routing]") {
  LayerRoutingStats s;
  // First choices 0 0 1 2; tokens 0 and 3 are cluster 0, tokens 1 and 2 cluster 1; no cluster 2 token.
  s.add(hand_routing(), from_vector(std::vector<int64_t>{0, 1, 1, 0}), /*num_labels=*/3);
  CHECK(s.first_choice_by_label == std::vector<std::vector<int64_t>>{{1, 0, 1}, {1, 1, 0}, {0, 0, 0}});
  CHECK_THROWS_WITH(s.add(hand_routing(), from_vector(std::vector<int64_t>{0, 1}), 3),
                    Catch::Contains("2 labels for 4 tokens"));
}

TEST_CASE("routing stats agree with TopNGating's own counts on a real routing", "[train][routing]") {
  Generator gen(3);
  moe::TopNGatingOptions o;
  o.dim = 5;
  o.num_gates = 4;
  o.top_n = 3;
  o.threshold_train = 0.05;
  o.capacity_factor_train = 0.7;
  o.min_expert_capacity = 1;
  moe::TopNGating g(o, gen, DType::f64);
  moe::GatingCall call;
  call.gen = &gen;
  const moe::Routing r = g.route(randn({3, 24, 5}, gen, DType::f64), call);
  LayerRoutingStats s;
  s.add(r);
  CHECK(s.kept_per_expert == r.tokens_per_expert().to_vector<int64_t>());
  CHECK(s.dropped_fraction() == Approx(r.dropped_fraction()));
  REQUIRE(r.dropped_fraction() > 0);  // the case exercises drops
  for (size_t e = 0; e < s.kept_per_expert.size(); ++e) CHECK(s.demand_per_expert[e] >= s.kept_per_expert[e]);
  int64_t routed = 0;
  for (bool x : r.routed.to_vector<bool>()) routed += x;
  int64_t demand = 0;
  for (int64_t d : s.demand_per_expert) demand += d;
  CHECK(demand == routed);
  CHECK(s.routed_per_choice[0] == 3 * 24);  // the first choice always routes
  CHECK(s.groups == 3);
  CHECK(s.capacity == r.capacity);
}

TEST_CASE("a routing report prints the same numbers as text and as JSON", "[train][routing]") {
  RoutingReport rep;
  rep.source = "step_7.safetensors";
  rep.step = 7;
  rep.batches = 1;
  rep.layers.resize(1);
  rep.layers[0].add(hand_routing(), from_vector(std::vector<int64_t>{0, 1, 1, 0}), 2);
  const nlohmann::json j = to_json(rep);
  CHECK(j["routing"] == "eval");
  CHECK(j["step"] == 7);
  CHECK(j["layers"][0]["tokens_per_expert"] == std::vector<int64_t>{2, 2, 1});
  CHECK(j["layers"][0]["demand_per_expert"] == std::vector<int64_t>{4, 2, 1});
  CHECK(j["layers"][0]["cluster_expert_counts"][1] == std::vector<int64_t>{1, 1, 0});
  const std::string text = format_text(rep);
  // Right-aligned columns: expert 0's row, then the totals (kept 5 of 7 asked) and choice 1's drop rate.
  CHECK_THAT(text, Catch::Contains("  expert  kept  demand  dropped\n"
                                   "       0     2       4        2\n"));
  CHECK_THAT(text, Catch::Contains("   total     5       7        2\n"));
  CHECK_THAT(text, Catch::Contains("       1       3     1      66.7%\n"));
  CHECK_THAT(text, Catch::Contains("routing of step_7.safetensors (step 7)"));
}
