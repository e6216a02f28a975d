#include "moegrad/train/routing_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/train/text_table.h"

namespace moegrad::train {

using json = nlohmann::json;

namespace {

// Adds b into a, sizing a on first use.
void add_into(std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  if (a.empty()) a.assign(b.size(), 0);
  MOEGRAD_CHECK(a.size() == b.size(), "routing stats: a batch with ", b.size(), " entries where earlier ones had ",
                a.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
}

double ratio(int64_t part, int64_t whole) {
  return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

int64_t total(const std::vector<int64_t>& v) {
  int64_t s = 0;
  for (int64_t x : v) s += x;
  return s;
}

std::string percent(double fraction) { return fmt::format("{:.1f}%", 100 * fraction); }

}  // namespace

void LayerRoutingStats::add(const moe::Routing& r, const Tensor& labels, int64_t num_labels) {
  const int64_t k = r.indices.size(0), b = r.indices.size(1), n = r.indices.size(2), e = r.raw_gates.size(-1);
  const std::vector<int64_t> expert = r.indices.to_vector<int64_t>();  // (k, b, n)
  const std::vector<bool> routed = r.routed.to_vector<bool>(), kept = r.kept.to_vector<bool>();
  std::vector<int64_t> kept_e(e, 0), demand_e(e, 0), routed_j(k, 0), kept_j(k, 0);
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = j * b * n; i < (j + 1) * b * n; ++i) {
      // kept implies routed (TopNGating drops only routed choices for capacity).
      demand_e[expert[i]] += routed[i];
      routed_j[j] += routed[i];
      kept_e[expert[i]] += kept[i];
      kept_j[j] += kept[i];
    }
  add_into(kept_per_expert, kept_e);
  add_into(demand_per_expert, demand_e);
  add_into(routed_per_choice, routed_j);
  add_into(kept_per_choice, kept_j);

  // clamp keeps log(0) out: p log p -> 0 as p -> 0. Sigmoid scores are normalised first,
  // so the entropy is of a distribution over the experts whatever the score function.
  const Tensor scores = detach(r.raw_gates);
  const Tensor p = core::binary(BinaryOp::div, scores, core::sum(scores, {-1}, /*keepdim=*/true));
  const Tensor plogp = core::binary(BinaryOp::mul, p, core::unary(UnaryOp::log, core::clamp(p, 1e-30, 1.0)));
  entropy_sum -= core::sum(core::to(plogp, DType::f64)).item<double>();
  tokens += b * n;
  groups += b;
  capacity = r.capacity;
  dropless = r.dropless;

  if (!labels.defined()) return;
  MOEGRAD_CHECK(labels.numel() == b * n, "routing stats: ", labels.numel(), " labels for ", b * n, " tokens");
  const std::vector<int64_t> label = labels.to_vector<int64_t>();
  const std::vector<int64_t> main_expert = r.first_choice().to_vector<int64_t>();
  if (first_choice_by_label.empty()) first_choice_by_label.assign(num_labels, std::vector<int64_t>(e, 0));
  for (int64_t i = 0; i < b * n; ++i) {
    MOEGRAD_CHECK(label[i] >= 0 && label[i] < num_labels, "routing stats: label ", label[i], " outside [0, ",
                  num_labels, ")");
    if (main_expert[i] >= 0) ++first_choice_by_label[label[i]][main_expert[i]];  // expert choice may take none
  }
}

std::vector<double> LayerRoutingStats::drop_rate_per_choice() const {
  std::vector<double> out;
  for (size_t j = 0; j < routed_per_choice.size(); ++j)
    out.push_back(ratio(routed_per_choice[j] - kept_per_choice[j], routed_per_choice[j]));
  return out;
}

double LayerRoutingStats::dropped_fraction() const {
  const int64_t routed = total(routed_per_choice);
  return ratio(routed - total(kept_per_choice), routed);
}

double LayerRoutingStats::routing_entropy() const {
  return tokens > 0 ? entropy_sum / static_cast<double>(tokens) : 0.0;
}

json LayerRoutingStats::to_json() const {
  json j = {{"tokens_per_expert", kept_per_expert},
            {"demand_per_expert", demand_per_expert},
            {"routed_per_choice", routed_per_choice},
            {"kept_per_choice", kept_per_choice},
            {"drop_rate_per_choice", drop_rate_per_choice()},
            {"dropped_fraction", dropped_fraction()},
            {"routing_entropy", routing_entropy()},
            {"capacity", dropless ? json(nullptr) : json(capacity)},
            {"groups", groups},
            {"tokens", tokens}};
  if (!first_choice_by_label.empty()) j["cluster_expert_counts"] = first_choice_by_label;
  return j;
}

json to_json(const RoutingReport& r) {
  json j = {{"source", r.source}};
  if (r.step >= 0) j["step"] = r.step;
  j["routing"] = r.train_routing ? "train" : "eval";
  j["batches"] = r.batches;
  json layers = json::array();
  for (const LayerRoutingStats& l : r.layers) layers.push_back(l.to_json());
  j["layers"] = layers;
  return j;
}

std::string format_text(const RoutingReport& r) {
  std::string out = "routing of " + r.source + (r.step >= 0 ? fmt::format(" (step {})", r.step) : "") + "\n";
  out += fmt::format("{} routing (capacity_factor_{}, threshold_{}) over {} held-out batch{}\n",
                     r.train_routing ? "training" : "eval", r.train_routing ? "train" : "eval",
                     r.train_routing ? "train" : "eval", r.batches, r.batches == 1 ? "" : "es");
  for (size_t li = 0; li < r.layers.size(); ++li) {
    const LayerRoutingStats& l = r.layers[li];
    const size_t e = l.kept_per_expert.size();
    out += fmt::format(
        "\nMoE layer {}: {} tokens in {} routing groups, {}; router entropy {:.3f} nats (uniform: {:.3f})\n", li,
        l.tokens, l.groups, l.dropless ? std::string("no capacity (dropless)") : fmt::format("capacity {} per expert and group", l.capacity),
        l.routing_entropy(), std::log(static_cast<double>(e)));
    // Demand above capacity * groups is what the cap cut off.
    std::vector<std::vector<std::string>> rows = {{"expert", "kept", "demand", "dropped"}};
    for (size_t x = 0; x < e; ++x)
      rows.push_back({std::to_string(x), std::to_string(l.kept_per_expert[x]), std::to_string(l.demand_per_expert[x]),
                      std::to_string(l.demand_per_expert[x] - l.kept_per_expert[x])});
    const int64_t kept = total(l.kept_per_expert), demand = total(l.demand_per_expert);
    rows.push_back({"total", std::to_string(kept), std::to_string(demand), std::to_string(demand - kept)});
    out += text_table(rows);
    rows = {{"choice", "routed", "kept", "drop rate"}};
    const std::vector<double> drop = l.drop_rate_per_choice();
    for (size_t j = 0; j < drop.size(); ++j)
      rows.push_back({std::to_string(j), std::to_string(l.routed_per_choice[j]), std::to_string(l.kept_per_choice[j]),
                      percent(drop[j])});
    rows.push_back({"all", std::to_string(total(l.routed_per_choice)), std::to_string(total(l.kept_per_choice)),
                    percent(l.dropped_fraction())});
    out += text_table(rows);
    if (l.first_choice_by_label.empty()) continue;
    out += "  tokens of each cluster by their first choice's expert:\n";
    std::vector<std::string> header = {"cluster"};
    for (size_t x = 0; x < e; ++x) header.push_back("e" + std::to_string(x));
    rows = {header};
    for (size_t c = 0; c < l.first_choice_by_label.size(); ++c) {
      std::vector<std::string> row = {std::to_string(c)};
      for (int64_t v : l.first_choice_by_label[c]) row.push_back(std::to_string(v));
      rows.push_back(row);
    }
    out += text_table(rows);
  }
  return out;
}

}  // namespace moegrad::train
