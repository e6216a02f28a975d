#pragma once
// The two ways to send tokens through the experts, with identical values and gradients:
// dense (the spec's einsums over (b, n, e, c) tensors: the reference) and indexed (gather
// each expert's kept tokens, run it on them only, scatter-add the weighted outputs back:
// cost linear in the number of tokens).
#include <string>

#include "moegrad/moe/expert.h"
#include "moegrad/moe/phase_times.h"
#include "moegrad/moe/top_n_gating.h"

namespace moegrad::moe {

enum class Dispatch { dense, indexed };

Dispatch parse_dispatch(const std::string& name);  // ConfigError("dispatch") on anything else
const char* dispatch_name(Dispatch d);

// x (b, n, d) -> (b, n, d) through `experts` as `r` decided.
Tensor dense_dispatch(const Tensor& x, const Routing& r, Experts& experts, bool straight_through,
                      PhaseTimes* times = nullptr);
Tensor indexed_dispatch(const Tensor& x, const Routing& r, Experts& experts, bool straight_through,
                        PhaseTimes* times = nullptr);

}  // namespace moegrad::moe
