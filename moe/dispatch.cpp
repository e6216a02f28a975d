#include "moe/dispatch.h"

#include "autograd/autograd.h"
#include "core/core.h"
#include "moe/grouped_experts.h"

namespace moegrad::moe {

Dispatch parse_dispatch(const std::string& name) {
  if (name == "dense") return Dispatch::dense;
  if (name == "indexed") return Dispatch::indexed;
  throw ConfigError("dispatch", "must be \"dense\" or \"indexed\", got \"" + name + "\"");
}

const char* dispatch_name(Dispatch d) { return d == Dispatch::dense ? "dense" : "indexed"; }

Tensor dense_dispatch(const Tensor& x, const Routing& r, Experts& experts, bool straight_through,
                      PhaseTimes* times) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2);
  const int64_t e = r.raw_gates.size(-1), c = r.capacity;
  Tensor dispatch, combine, expert_in, expert_out;
  {
    PhaseClock clock(slot(times, &PhaseTimes::dispatch));
    std::tie(dispatch, combine) = TopNGating::dense_tensors(r, straight_through);
    // expert_in[e, b, c, :] = sum_n dispatch[b, n, e, c] x[b, n, :]
    expert_in = matmul(transpose(reshape(dispatch, {b, n, e * c}), 1, 2), x);  // (b, e*c, d)
    expert_in = permute(reshape(expert_in, {b, e, c, d}), {1, 0, 2, 3});       // (e, b, c, d)
  }
  {
    PhaseClock clock(slot(times, &PhaseTimes::experts));
    expert_out = experts.forward(expert_in);
  }
  PhaseClock clock(slot(times, &PhaseTimes::combine));
  // out[b, n, :] = sum_{e, c} combine[b, n, e, c] expert_out[e, b, c, :]
  Tensor per_batch = reshape(permute(expert_out, {1, 0, 2, 3}), {b, e * c, d});
  return matmul(reshape(combine, {b, n, e * c}), per_batch);
}

Tensor indexed_dispatch(const Tensor& x, const Routing& r, Experts& experts, bool straight_through,
                        PhaseTimes* times) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2);
  const int64_t k = r.indices.size(0), tokens = b * n;
  const DType dt = x.dtype();
  Tensor x_flat = reshape(x, {tokens, d});
  Tensor gates = reshape(r.gates, {k * tokens});  // entry j * tokens + t
  Tensor kept = core::reshape(r.kept, {k * tokens});
  Tensor expert_of = core::reshape(r.indices, {k * tokens});
  Tensor token_of = core::reshape(core::expand(core::unsqueeze(arange(tokens), 0), {k, tokens}), {k * tokens});
  // The dispatch weight is exactly 1 for a kept entry; with straight-through it carries the
  // gradient of its combine weight, as dispatch + combine - stop_grad(combine) does.
  Tensor dispatch_w = core::to(kept, dt);
  if (straight_through) dispatch_w = dispatch_w + (gates - detach(gates));

  // All kept entries, grouped by expert: one gather feeds every expert and one scatter_add
  // collects them, so the backward has one gradient of x_flat to build, not one per expert.
  TensorList entry_lists;
  std::vector<int64_t> counts;
  Tensor entries, token_ids;
  TensorList expert_in;
  {
    PhaseClock clock(slot(times, &PhaseTimes::dispatch));
    for (size_t i = 0; i < experts.size(); ++i) {
      Tensor is_i = core::binary(BinaryOp::eq, expert_of, core::scalar_like(static_cast<double>(i), expert_of));
      entry_lists.push_back(core::flat_nonzero(core::binary(BinaryOp::logical_and, kept, is_i)));
      counts.push_back(entry_lists.back().numel());
    }
    entries = core::cat(entry_lists, 0);
    token_ids = core::index_select(token_of, 0, entries);
    Tensor xin = index_select(x_flat, 0, token_ids) * unsqueeze(index_select(dispatch_w, 0, entries), -1);
    expert_in = split(xin, counts, 0);
  }
  // An expert with no token still runs (on zero rows), so its parameters get zero
  // gradients, as in the dense reference, and optimizers treat it the same.
  TensorList expert_out;
  {
    PhaseClock clock(slot(times, &PhaseTimes::experts));
    if (can_group_experts(experts)) {
      expert_out = grouped_experts_forward(experts, expert_in);
    } else {
      for (size_t i = 0; i < experts.size(); ++i) expert_out.push_back(experts[i].forward(expert_in[i]));
    }
  }
  PhaseClock clock(slot(times, &PhaseTimes::combine));
  Tensor all = cat(expert_out, 0) * unsqueeze(index_select(gates, 0, entries), -1);
  Tensor index = core::expand(core::unsqueeze(token_ids, 1), {token_ids.numel(), d});
  Tensor out = scatter_add(zeros({tokens, d}, dt), 0, index, all);
  return reshape(out, {b, n, d});
}

}  // namespace moegrad::moe
