#include "moegrad/moe/grouped_experts.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/core/threading.h"
#include "moegrad/moe/expert_kind.h"
#include "moegrad/nn/geglu.h"
#include "moegrad/nn/linear.h"

namespace moegrad::moe {

namespace {

struct ExpertWeights {
  Tensor w1, b1, mult_bias, w2, b2;  // mult_bias undefined without one
};

// The GEGLU feedforward's weights, found by the submodule paths the expert's kind declares
// (expert_kind.h), or nothing: the kind declares none, or what sits at those paths is not
// a GEGLU feedforward of the expert's widths (a user may have replaced the net). Then the
// experts run one by one, never misread.
std::optional<ExpertWeights> weights_of(const Expert& e) {
  const ExpertKind& kind = find_expert_kind(e.options.kind);
  const std::optional<GegluLayout> layout = kind.grouped ? kind.grouped(e.options) : std::nullopt;
  if (!layout) return std::nullopt;
  const auto in = std::dynamic_pointer_cast<nn::Linear>(e.find_module(layout->in));
  const auto act = std::dynamic_pointer_cast<nn::GEGLU>(e.find_module(layout->act));
  const auto out = std::dynamic_pointer_cast<nn::Linear>(e.find_module(layout->out));
  if (!in || !act || !out || !in->bias.defined() || !out->bias.defined()) return std::nullopt;
  const int64_t d = e.options.dim, h = act->dim;
  if (in->weight.shape() != Shape{2 * h, d} || out->weight.shape() != Shape{d, h}) return std::nullopt;
  if (act->mult_bias.defined() != e.options.mult_bias) return std::nullopt;
  return ExpertWeights{in->weight, in->bias, act->mult_bias, out->weight, out->bias};
}

// Experts dealt to threads, largest first onto the least loaded, so the threads finish
// together even when the routing is uneven.
std::vector<std::vector<size_t>> deal(const std::vector<int64_t>& rows, int threads) {
  std::vector<size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows[a] > rows[b]; });
  std::vector<std::vector<size_t>> lanes(threads);
  std::vector<int64_t> load(threads, 0);
  for (size_t i : order) {
    const size_t t = std::min_element(load.begin(), load.end()) - load.begin();
    lanes[t].push_back(i);
    load[t] += rows[i] + 1;  // +1: an empty expert still costs a little
  }
  return lanes;
}

// Runs f(i) for every expert, one lane of experts per thread, each lane single-threaded.
template <typename F>
void for_each_expert_in_lanes(const std::vector<int64_t>& rows, F f) {
  const auto lanes = deal(rows, num_threads());
  parallel_tasks(static_cast<int64_t>(lanes.size()), [&](int64_t lane) {
    for (size_t i : lanes[lane]) f(i);
  });
}

// Inputs, in order: the E expert inputs, then per expert w1, b1, [mult_bias,] w2, b2.
struct GroupedExpertsOp {
  size_t experts = 0;
  bool with_mult_bias = true;
  std::vector<int64_t> rows;

  TensorList forward(OpContext& ctx, const TensorList& xs, const TensorList& params, bool mult_bias) {
    experts = xs.size();
    with_mult_bias = mult_bias;
    const size_t per = mult_bias ? 5 : 4;
    for (const Tensor& x : xs) rows.push_back(x.size(0));
    TensorList out(experts), hidden(experts), cdf(experts), act(experts);
    for_each_expert_in_lanes(rows, [&](size_t i) {
      const Tensor* p = &params[i * per];
      const Tensor mb = mult_bias ? p[2] : Tensor();
      hidden[i] = core::linear(xs[i], p[0], p[1]);
      std::tie(act[i], cdf[i]) = core::geglu(hidden[i], mb);
      out[i] = core::linear(act[i], p[per - 2], p[per - 1]);
    });
    for (size_t i = 0; i < experts; ++i) ctx.save_all(xs[i], hidden[i], cdf[i], act[i]);
    for (const Tensor& p : params) ctx.save(p);
    return out;
  }

  TensorList backward(const OpContext& ctx, const TensorList& grads) {
    const size_t per = with_mult_bias ? 5 : 4;
    TensorList result(experts + experts * per);
    for_each_expert_in_lanes(rows, [&](size_t i) {
      const Tensor &x = ctx.saved(4 * i), &h = ctx.saved(4 * i + 1), &cdf = ctx.saved(4 * i + 2);
      const Tensor& a = ctx.saved(4 * i + 3);
      auto param = [&](size_t k) -> const Tensor& { return ctx.saved(4 * experts + i * per + k); };
      const Tensor& w2 = param(per - 2);
      const Tensor& g = grads[i];
      const size_t at = experts + i * per;  // this expert's parameter gradients
      result[at + per - 1] = core::sum(g, {0}, /*keepdim=*/false);
      result[at + per - 2] = core::matmul(core::transpose(g, 0, 1), a);
      // With the dispatch weight's straight-through gradient, the input needs its gradient too.
      Tensor ga = core::matmul(g, w2);
      auto [gh, gmb] = core::geglu_backward(h, cdf, with_mult_bias ? param(2) : Tensor(), ga, with_mult_bias);
      if (with_mult_bias) result[at + 2] = gmb;
      result[at + 1] = core::sum(gh, {0}, /*keepdim=*/false);
      result[at] = core::matmul(core::transpose(gh, 0, 1), x);
      if (ctx.needs_input_grad(i)) result[i] = core::matmul(gh, param(0));
    });
    return result;
  }
};

}  // namespace

bool can_group_experts(const Experts& experts) {
  if (num_threads() < 2) return false;
  // The lanes are host threads sharing out CPU work; a GPU has one stream per device.
  if (experts.size() == 0 || !experts.named_parameters().front().second.device().is_cpu()) return false;
  for (size_t i = 0; i < experts.size(); ++i)
    if (experts[i].options.prenorm || !weights_of(experts[i])) return false;
  return true;
}

TensorList grouped_experts_forward(Experts& experts, const TensorList& inputs) {
  MOEGRAD_CHECK(inputs.size() == experts.size(), "grouped_experts_forward: ", inputs.size(),
                " inputs for ", experts.size(), " experts");
  const bool mult_bias = experts[0].options.mult_bias;
  TensorList params;
  for (size_t i = 0; i < experts.size(); ++i) {
    MOEGRAD_CHECK(!experts[i].options.prenorm && experts[i].options.mult_bias == mult_bias,
                  "grouped_experts_forward: expert ", i, " differs in prenorm or mult_bias");
    MOEGRAD_CHECK(inputs[i].dim() == 2 && inputs[i].size(1) == experts[i].options.dim,
                  "grouped_experts_forward: input ", i, " of shape ", inputs[i].shape(), " is not (rows, ",
                  experts[i].options.dim, ")");
    MOEGRAD_CHECK(weights_of(experts[i]).has_value(), "grouped_experts_forward: expert ", i,
                  " is not a GEGLU feedforward at the paths its kind declares (check can_group_experts first)");
    const ExpertWeights w = *weights_of(experts[i]);
    params.insert(params.end(), {w.w1, w.b1});
    if (mult_bias) params.push_back(w.mult_bias);
    params.insert(params.end(), {w.w2, w.b2});
  }
  return apply<GroupedExpertsOp>(inputs, params, mult_bias);
}

}  // namespace moegrad::moe
