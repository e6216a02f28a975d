#include "moegrad/moe/dispatch.h"

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/moe/grouped_experts.h"

namespace moegrad::moe {

Dispatch parse_dispatch(const std::string& name) {
  if (name == "dense") return Dispatch::dense;
  if (name == "indexed") return Dispatch::indexed;
  throw ConfigError("dispatch", "must be \"dense\" or \"indexed\", got \"" + name + "\"");
}

const char* dispatch_name(Dispatch d) { return d == Dispatch::dense ? "dense" : "indexed"; }

namespace {
constexpr IndexCheck kTrusted = IndexCheck::trusted;  // every index here is the routing's own

// The kept entries grouped by expert, each group in entry order (a stable sort by expert,
// as one flat_nonzero per expert gives), and each expert's count. The counts are the one
// read back to the host per layer: the split sizes of the expert inputs.
struct ExpertGroups {
  Tensor entries;
  std::vector<int64_t> counts;
};

ExpertGroups group_by_expert(const Tensor& expert_of, const Tensor& kept, int64_t num_experts) {
  Backend& backend = expert_of.backend();
  const int64_t m = expert_of.numel();
  // Dropped entries go to one more bucket, after every expert's.
  Tensor bucket = core::where(kept, expert_of, core::scalar_like(static_cast<double>(num_experts), expert_of));
  Tensor hot = core::one_hot(bucket, num_experts + 1, DType::i64, kTrusted);  // (m, E + 1)
  std::vector<int64_t> counts = core::sum(hot, {0}).to_vector<int64_t>();
  std::vector<int64_t> starts(counts.size(), 0);
  for (size_t i = 1; i < counts.size(); ++i) starts[i] = starts[i - 1] + counts[i - 1];
  // An entry's place: its bucket's start plus the entries of its bucket before it.
  Tensor rank = core::squeeze(core::gather(core::cumsum(hot, 0, /*exclusive=*/true), 1, core::unsqueeze(bucket, 1), kTrusted), 1);
  Tensor start = core::index_select(from_vector(starts, {}, DType::i64, backend), 0, bucket, kTrusted);
  Tensor place = core::binary(BinaryOp::add, start, rank);
  Tensor order = core::scatter_add(zeros({m}, DType::i64, backend), 0, place,
                                   arange(0.0, static_cast<double>(m), 1.0, DType::i64, backend), kTrusted);
  const int64_t kept_total = starts.back();
  counts.pop_back();
  return {core::narrow(order, 0, 0, kept_total), counts};
}

// Each held expert on its own rows (rows may be 0).
TensorList run_experts(Experts& experts, const TensorList& inputs) {
  if (can_group_experts(experts)) return grouped_experts_forward(experts, inputs);
  TensorList out;
  for (size_t i = 0; i < experts.size(); ++i) out.push_back(experts[i].forward(inputs[i]));
  return out;
}

// expert_in (e, b, c, d) of this rank's tokens -> the experts' outputs for them, the same
// shape, with each block of e / k experts computed on its rank.
Tensor dense_exchange(const Tensor& expert_in, Experts& experts, const ExpertParallel& ep) {
  dist::Communicator& group = *ep.group;
  const int64_t k = group.size(), held = static_cast<int64_t>(experts.size());
  const int64_t b = expert_in.size(1), c = expert_in.size(2), d = expert_in.size(3);
  Tensor got = reshape(all_to_all(expert_in, group), {k, held, b, c, d});  // by sending rank
  Tensor in = ep.parts_share_rows ? sum(got, {0}) : reshape(permute(got, {1, 0, 2, 3, 4}), {held, k * b, c, d});
  Tensor out = experts.forward(in);
  Tensor back = ep.parts_share_rows ? expand(unsqueeze(out, 0), {k, held, b, c, d})
                                    : permute(reshape(out, {held, k, b, c, d}), {1, 0, 2, 3, 4});
  return all_to_all(reshape(back, {k * held, b, c, d}), group);
}

// rows (this rank's kept entries grouped by expert, counts[i] for expert i of all e) ->
// the experts' outputs for them, in the same order, each expert run on its own rank over
// every rank's rows for it. The per-expert counts travel first: the receivers size their
// buffers and sort what arrives by expert.
Tensor indexed_exchange(const Tensor& rows, const std::vector<int64_t>& counts, Experts& experts,
                        const ExpertParallel& ep, TensorList& held_in, TensorList& held_out) {
  dist::Communicator& group = *ep.group;
  const int64_t k = group.size(), held = static_cast<int64_t>(experts.size());
  Backend& backend = rows.backend();
  std::vector<int64_t> send(k, 0), recv(k, 0);
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = 0; i < held; ++i) send[j] += counts[j * held + i];
  // got[s * held + i]: the rows rank s sends for the i-th expert held here.
  const std::vector<int64_t> got =
      group.all_to_all(from_vector(counts, {}, DType::i64)).to_vector<int64_t>();
  std::vector<int64_t> source_start(k, 0);
  for (int64_t s = 0; s < k; ++s) {
    for (int64_t i = 0; i < held; ++i) recv[s] += got[s * held + i];
    if (s > 0) source_start[s] = source_start[s - 1] + recv[s - 1];
  }
  Tensor arrived = all_to_all_v(rows, group, send, recv);  // by sending rank, then by expert
  // By expert, then by sending rank, and back.
  std::vector<int64_t> order, per_expert(held, 0);
  for (int64_t i = 0; i < held; ++i) {
    for (int64_t s = 0; s < k; ++s) {
      int64_t at = source_start[s];
      for (int64_t i2 = 0; i2 < i; ++i2) at += got[s * held + i2];
      for (int64_t r = 0; r < got[s * held + i]; ++r) order.push_back(at + r);
      per_expert[i] += got[s * held + i];
    }
  }
  std::vector<int64_t> inverse(order.size());
  for (size_t p = 0; p < order.size(); ++p) inverse[order[p]] = static_cast<int64_t>(p);
  const auto n_rows = static_cast<int64_t>(order.size());
  held_in = split(index_select(arrived, 0, from_vector(order, {n_rows}, DType::i64, backend), kTrusted), per_expert, 0);
  held_out = run_experts(experts, held_in);
  Tensor done = index_select(cat(held_out, 0), 0, from_vector(inverse, {n_rows}, DType::i64, backend), kTrusted);
  return all_to_all_v(done, group, recv, send);
}
}  // namespace

Tensor dense_dispatch(const Tensor& x, const Routing& r, Experts& experts, bool straight_through,
                      PhaseTimes* times, DispatchTrace* trace, const ExpertParallel* ep) {
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
    expert_out = ep ? dense_exchange(expert_in, experts, *ep) : experts.forward(expert_in);
  }
  if (trace) {
    trace->dispatch_weights = dispatch;
    trace->expert_inputs = {expert_in};
    trace->expert_outputs = {expert_out};
  }
  PhaseClock clock(slot(times, &PhaseTimes::combine));
  // out[b, n, :] = sum_{e, c} combine[b, n, e, c] expert_out[e, b, c, :]
  Tensor per_batch = reshape(permute(expert_out, {1, 0, 2, 3}), {b, e * c, d});
  return matmul(reshape(combine, {b, n, e * c}), per_batch);
}

Tensor indexed_dispatch(const Tensor& x, const Routing& r, Experts& experts, bool straight_through,
                        PhaseTimes* times, DispatchTrace* trace, const ExpertParallel* ep) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2);
  const int64_t k = r.indices.size(0), tokens = b * n;
  const DType dt = x.dtype();
  Tensor x_flat = reshape(x, {tokens, d});
  Tensor gates = reshape(r.gates, {k * tokens});  // entry j * tokens + t
  Tensor kept = core::reshape(r.kept, {k * tokens});
  Tensor expert_of = core::reshape(r.indices, {k * tokens});
  Tensor token_of = core::reshape(core::expand(core::unsqueeze(arange(0.0, static_cast<double>(tokens), 1.0, DType::i64, x.backend()), 0), {k, tokens}), {k * tokens});
  // The dispatch weight is exactly 1 for a kept entry; with straight-through it carries the
  // gradient of its combine weight, as dispatch + combine - stop_grad(combine) does.
  Tensor dispatch_w = core::to(kept, dt);
  if (straight_through) dispatch_w = dispatch_w + (gates - detach(gates));

  // All kept entries, grouped by expert: one gather feeds every expert and one scatter_add
  // collects them, so the backward has one gradient of x_flat to build, not one per expert.
  Tensor entries, token_ids, xin;
  std::vector<int64_t> counts;
  {
    PhaseClock clock(slot(times, &PhaseTimes::dispatch));
    ExpertGroups groups = group_by_expert(expert_of, kept, r.raw_gates.size(-1));
    entries = groups.entries;
    counts = groups.counts;
    token_ids = core::index_select(token_of, 0, entries, kTrusted);
    Tensor entry_w = index_select(dispatch_w, 0, entries, kTrusted);
    xin = index_select(x_flat, 0, token_ids, kTrusted) * unsqueeze(entry_w, -1);
    if (trace) trace->dispatch_weights = entry_w;
  }
  // An expert with no token still runs (on zero rows), so its parameters get zero
  // gradients, as in the dense reference, and optimizers treat it the same.
  TensorList expert_in, expert_out;
  Tensor outputs;  // the experts' outputs, row for row with xin
  {
    PhaseClock clock(slot(times, &PhaseTimes::experts));
    if (ep) {
      outputs = indexed_exchange(xin, counts, experts, *ep, expert_in, expert_out);
    } else {
      expert_in = split(xin, counts, 0);
      expert_out = run_experts(experts, expert_in);
      outputs = cat(expert_out, 0);
    }
  }
  if (trace) {
    trace->expert_inputs = expert_in;
    trace->expert_outputs = expert_out;
  }
  PhaseClock clock(slot(times, &PhaseTimes::combine));
  Tensor all = outputs * unsqueeze(index_select(gates, 0, entries, kTrusted), -1);
  Tensor index = core::expand(core::unsqueeze(token_ids, 1), {token_ids.numel(), d});
  Tensor out = scatter_add(zeros({tokens, d}, dt, x.backend()), 0, index, all, kTrusted);
  return reshape(out, {b, n, d});
}

}  // namespace moegrad::moe
