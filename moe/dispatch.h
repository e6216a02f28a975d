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

// What went through the experts, for looking at it (train --dump-grads): handles to the
// graph's own tensors, so retain_grad on them gives their gradients.
struct DispatchTrace {
  // dense: the (b, n, e, c) dispatch tensor; indexed: each kept entry's weight, in the
  // order of expert_inputs' rows (1, plus the gate's gradient with straight-through).
  Tensor dispatch_weights;
  // indexed: per expert, its tokens' rows (tokens, d); dense: one (e, b, c, d) tensor, the
  // one the graph holds (a slice of it would get no gradient).
  TensorList expert_inputs;
  TensorList expert_outputs;
};

// Experts spread over the ranks of `group` (Experts::keep_part): each rank's tokens travel
// to their expert's rank and back by all-to-all, whose backward is the reverse exchange.
struct ExpertParallel {
  dist::Communicator* group = nullptr;
  // The ranks hold parts of the same rows (data_axis 1): their capacity buffers for an
  // expert are disjoint parts of the one buffer a single process fills, and are summed on
  // arrival (exactly: every slot is zero in all parts but one). Otherwise each rank's rows
  // are rows of their own, and arrive side by side in rank order.
  bool parts_share_rows = false;
};

// x (b, n, d) -> (b, n, d) through `experts` as `r` decided; with `ep`, `experts` holds
// this rank's part and r is the decision for this rank's tokens.
Tensor dense_dispatch(const Tensor& x, const Routing& r, Experts& experts, bool straight_through,
                      PhaseTimes* times = nullptr, DispatchTrace* trace = nullptr,
                      const ExpertParallel* ep = nullptr);
Tensor indexed_dispatch(const Tensor& x, const Routing& r, Experts& experts, bool straight_through,
                        PhaseTimes* times = nullptr, DispatchTrace* trace = nullptr,
                        const ExpertParallel* ep = nullptr);

}  // namespace moegrad::moe
