#include "moegrad/train/preflight.h"

#include <fmt/format.h>

#include <cstdint>

#include "moegrad/core/memory_budget.h"
#include "moegrad/train/memory_estimate.h"
#include "moegrad/train/model_kind.h"
#include "moegrad/train/text_table.h"

namespace moegrad::train {

namespace {

// Exact below 2^53, which every count a config in range can give stays under.
std::string count(double v) { return fmt::format("{:.0f}", v); }

std::string moe_lines(const Config& c, const ModelKindSpec& kind) {
  if (!kind.routing_groups)
    return "# MoE layers: model kind " + kind.name + " declares no routing groups, so no capacities are shown\n";
  const RoutingGroups g = kind.routing_groups(c);
  const moe::MoEOptions& m = c.model.moe_block.moe;
  const moe::TopNGatingOptions gating = c.model.block().moe.gating();
  // Every routed choice counts: top_n per token, before threshold routing drops later choices.
  const double expected = static_cast<double>(g.tokens * m.top_n) / static_cast<double>(m.num_experts);
  std::string out = fmt::format(
      "# MoE layers: each routes {} group{} of {} tokens per training batch; an expert takes up to its capacity of "
      "each group\n",
      g.groups, g.groups == 1 ? "" : "s", g.tokens);
  out += fmt::format("#   capacity from capacity_factor_train {:g} and capacity_factor_eval {:g} (at least {})\n",
                     m.capacity_factor_train, m.capacity_factor_eval, gating.min_expert_capacity);
  out += fmt::format("#   expected tokens per expert = tokens {} * top_n {} / num_experts {}\n", g.tokens, m.top_n,
                     m.num_experts);
  std::vector<std::vector<std::string>> rows = {
      {"layer", "capacity train", "capacity eval", "expected tokens per expert"}};
  for (int64_t l = 0; l < g.layers; ++l)
    rows.push_back({std::to_string(l), std::to_string(gating.capacity(g.tokens, /*training=*/true)),
                    std::to_string(gating.capacity(g.tokens, /*training=*/false)), fmt::format("{:g}", expected)});
  return out + text_table(rows, "# ");
}

}  // namespace

std::string preflight_comments(const Config& c) {
  const ModelKindSpec& kind = find_model_kind(c.model.kind);
  const MemoryEstimate need = estimate_memory(c);
  const int64_t available = available_memory_bytes();
  std::string out = "\n# pre-flight, estimated from this config alone (nothing was built):\n";
  out += "# parameters: " + count(kind.parameter_count(c)) + ", active per token: " + count(active_parameter_count(c)) +
         "\n";
  out += "# a training step's peak memory: " + format_bytes(need.total_bytes()) + " (" + need.breakdown() +
         "); available: " + (available == INT64_MAX ? std::string("unknown") : format_bytes(available)) + "\n";
  if (kind.moe) out += moe_lines(c, kind);
  return out;
}

}  // namespace moegrad::train
