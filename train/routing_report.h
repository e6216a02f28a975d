#pragma once
// What an MoE layer's routing did, counted from its Routing values (moe/top_n_gating.h):
// the numbers of `moegrad inspect` and of the per-layer entries of the trainer's metrics
// records, computed here alone.
//
// Shapes: k top_n, b routing groups, n tokens per group, e experts.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "moegrad/moe/top_n_gating.h"

namespace moegrad::train {

// One MoE layer, summed over the batches added.
struct LayerRoutingStats {
  int64_t tokens = 0;    // b * n of every batch
  int64_t groups = 0;    // b of every batch
  int64_t capacity = 0;  // per expert and group, of the last batch
  bool dropless = false;  // no capacity
  std::vector<int64_t> kept_per_expert;    // (e) choices within capacity
  std::vector<int64_t> demand_per_expert;  // (e) choices routed (threshold routing passed), before the capacity drop
  std::vector<int64_t> routed_per_choice;  // (k)
  std::vector<int64_t> kept_per_choice;    // (k)
  double entropy_sum = 0;                  // sum over tokens of -sum_e p log p of raw_gates
  // (num_labels, e) tokens of each cluster label by their first choice's expert, kept or
  // not; empty unless labels were given.
  std::vector<std::vector<int64_t>> first_choice_by_label;

  // Adds one batch. `labels` (b * n int64 in token order, values in [0, num_labels)): the
  // tokens' cluster ids, for first_choice_by_label; undefined: none.
  void add(const moe::Routing& r, const Tensor& labels = Tensor(), int64_t num_labels = 0);

  // Choice j's routed choices dropped for capacity, over its routed ones (0 when none routed).
  std::vector<double> drop_rate_per_choice() const;
  // The same over every choice.
  double dropped_fraction() const;
  // Mean over tokens of the router's entropy, in nats.
  double routing_entropy() const;

  // {"tokens_per_expert" (kept), "demand_per_expert", "routed_per_choice", "kept_per_choice",
  //  "drop_rate_per_choice", "dropped_fraction", "routing_entropy", "capacity", "groups",
  //  "tokens"[, "cluster_expert_counts"]}: a metrics record's layer entry.
  nlohmann::json to_json() const;
};

// `moegrad inspect`: every MoE layer of a model over some held-out batches.
struct RoutingReport {
  std::string source;      // the checkpoint or weights file
  int64_t step = -1;       // -1: the file does not record it
  bool train_routing = false;  // routed as in training (capacity_factor_train, threshold_train)
  int64_t batches = 0;
  std::vector<LayerRoutingStats> layers;
};

// One JSON object: {"source", ["step",] "routing": "eval"|"train", "batches", "layers": [...]}.
nlohmann::json to_json(const RoutingReport& r);
// The same numbers as aligned text tables for a terminal.
std::string format_text(const RoutingReport& r);

}  // namespace moegrad::train
