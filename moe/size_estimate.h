#pragma once
// The sizes of the MoE modules from their options alone, for the memory pre-checks that must
// refuse a size before anything is built (the trainer's config validation, the bench, parity
// fixtures). Computed in double, so no size within the options' ranges can overflow.
// Parameter counts are exact (tests compare them with built modules); activation counts err
// high.
#include "moegrad/moe/expert.h"
#include "moegrad/moe/moe.h"
#include "moegrad/moe/moe_router.h"

namespace moegrad::moe {

double expert_parameter_count(const ExpertOptions& o);
// o.dim and o.num_experts as MoE sets them.
double router_parameter_count(const MoERouterOptions& o);
double moe_parameter_count(const MoEOptions& o);
double block_parameter_count(const SparseMoEBlockOptions& o);
// The parameters of one MoE layer that a token does not pass through: the num_experts - top_n
// experts it is not routed to (expert choice: num_experts - capacity_factor_train, the
// experts a token gets on average; shared experts are always active). A model's parameters
// active per token are its parameters less this, for each MoE layer.
double idle_expert_parameter_count(const MoEOptions& o);

// Forward activation elements of one expert over `tokens` tokens.
double expert_activation_count(const ExpertOptions& o, double tokens);
// Forward activation elements of one MoE layer over `groups` routing groups of `tokens` each:
// the routing tensors, the routed copies through the experts and, on the dense path, the
// (group, token, expert, capacity) dispatch and combine tensors.
double moe_activation_count(const MoEOptions& o, double groups, double tokens);
double block_activation_count(const SparseMoEBlockOptions& o, double groups, double tokens);

}  // namespace moegrad::moe
