#pragma once
// The balance losses a routing can be trained with (TopNGatingOptions::balance_loss), each
// from one routing decision. P is the scores over experts (normalised to sum to 1 when they
// are sigmoids), f a count of choices; only P carries a gradient.
#include "moegrad/moe/top_n_gating.h"

namespace moegrad::moe {

// The scalar loss of `kind` for the decision r (its raw_gates, indices, kept), top_n
// choices per token; `none` is a zero of shape (1).
Tensor balance_loss(BalanceLoss kind, const Routing& r, int64_t top_n, bool normalize_scores);

}  // namespace moegrad::moe
