#include "moegrad/moe/size_estimate.h"

#include <algorithm>
#include <cmath>

#include "moegrad/moe/expert_kind.h"

namespace moegrad::moe {

double expert_parameter_count(const ExpertOptions& o) {
  // [RMSNorm(d)], then the kind's layers.
  return (o.prenorm ? static_cast<double>(o.dim) : 0) + find_expert_kind(o.kind).parameter_count(o);
}

double router_parameter_count(const MoERouterOptions& o) {
  double in = static_cast<double>(o.dim), p = 0;
  auto layer = [&](double width) {
    p += in * width + width;
    in = width;
  };
  if (auto* widths = std::get_if<std::vector<int64_t>>(&o.hidden_layers))
    for (int64_t w : *widths) layer(static_cast<double>(w));
  if (auto* count = std::get_if<int64_t>(&o.hidden_layers))
    for (int64_t i = 0; i < *count; ++i) layer(static_cast<double>(o.dim));
  layer(static_cast<double>(o.num_experts));
  return p;
}

double moe_parameter_count(const MoEOptions& o) {
  const double e = static_cast<double>(o.num_experts);
  double p = (e + static_cast<double>(o.num_shared_experts)) * expert_parameter_count(o.expert());
  if (o.router) {
    MoERouterOptions r = *o.router;
    r.dim = o.dim;
    r.num_experts = o.num_experts;
    p += router_parameter_count(r);
  } else {
    p += static_cast<double>(o.dim) * e;  // the gate's projection, without bias
  }
  return p;
}

double idle_expert_parameter_count(const MoEOptions& o) {
  // Token choice: top_n experts per token (at most; threshold routing and drops may send
  // fewer). Expert choice: e * c / n, which is capacity_factor_train on average. Shared
  // experts are never idle.
  const double e = static_cast<double>(o.num_experts);
  const double active = o.routing == RoutingMode::expert_choice ? std::min(e, o.capacity_factor_train)
                                                                 : static_cast<double>(o.top_n);
  return (e - active) * expert_parameter_count(o.expert());
}

double block_parameter_count(const SparseMoEBlockOptions& o) {
  const double ff = expert_parameter_count(o.feedforward());
  return moe_parameter_count(o.moe) + static_cast<double>(o.moe.dim) + (o.add_ff_before ? ff : 0) +
         (o.add_ff_after ? ff : 0);
}

double expert_activation_count(const ExpertOptions& o, double tokens) {
  // The input and [the norm's output] (counted whether or not there is one), then the kind's.
  return tokens * (2 * static_cast<double>(o.dim) + find_expert_kind(o.kind).activations_per_token(o));
}

double moe_activation_count(const MoEOptions& o, double groups, double tokens) {
  const double d = static_cast<double>(o.dim), e = static_cast<double>(o.num_experts);
  const double factor = std::max(o.capacity_factor_train, o.capacity_factor_eval);
  const double capacity = std::max(std::min(tokens, std::floor(tokens * factor / e)), 4.0);
  // Dropless keeps every routed choice, however many land on one expert.
  const double slots = o.dropless ? groups * tokens * static_cast<double>(o.top_n) : groups * e * capacity;
  const double shared = static_cast<double>(o.num_shared_experts) * expert_activation_count(o.expert(), groups * tokens);
  double a = groups * tokens * (8 * d + 4 * e) + expert_activation_count(o.expert(), slots) + slots * 3 * d + shared;
  if (o.dispatch == Dispatch::dense) a += 2 * groups * tokens * e * capacity;
  return a;
}

double block_activation_count(const SparseMoEBlockOptions& o, double groups, double tokens) {
  const double ff = expert_activation_count(o.feedforward(), groups * tokens);
  return moe_activation_count(o.moe, groups, tokens) + (o.add_ff_before ? ff : 0) + (o.add_ff_after ? ff : 0);
}

}  // namespace moegrad::moe
