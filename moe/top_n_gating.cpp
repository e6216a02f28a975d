#include "moegrad/moe/top_n_gating.h"

#include <cmath>
#include <limits>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/checked_math.h"
#include "moegrad/core/core.h"
#include "moegrad/moe/balance_loss.h"
#include "moegrad/moe/coor_descent.h"
#include "moegrad/moe/moe_router.h"

namespace moegrad::moe {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

void validate_threshold_length(const Threshold& t, const char* key, int64_t top_n) {
  if (auto* list = std::get_if<std::vector<double>>(&t); list && static_cast<int64_t>(list->size()) != top_n - 1)
    throw ConfigError(key, str_cat("a list must have top_n - 1 = ", top_n - 1, " entries, got ", list->size()));
}

// Choice j of a (k, ...) tensor.
Tensor choice(const Tensor& t, int64_t j) { return core::squeeze(core::narrow(t, 0, j, 1), 0); }
}  // namespace

void TopNGatingOptions::validate() const {
  check_field_ranges(fields(), *this);
  if (top_n > num_gates) throw ConfigError("top_n", str_cat("must be in [1, num_gates=", num_gates, "], got ", top_n));
  validate_threshold_length(threshold_train, "threshold_train", top_n);
  validate_threshold_length(threshold_eval, "threshold_eval", top_n);
  if (routing == RoutingMode::expert_choice) {
    if (differentiable_topk)
      throw ConfigError("differentiable_topk", "does not apply to routing: expert_choice (each expert takes its top-c)");
    if (dropless)
      throw ConfigError("dropless", "does not apply to routing: expert_choice, whose capacity is the tokens each expert takes");
    if (expert_bias)
      throw ConfigError("expert_bias", "balances token choice; routing: expert_choice is balanced by construction");
  }
  if (expert_bias && differentiable_topk)
    throw ConfigError("expert_bias", "needs differentiable_topk: false (the biased scores choose by plain top-k)");
}

std::vector<double> TopNGatingOptions::threshold_vector(bool training) const {
  const Threshold& t = training ? threshold_train : threshold_eval;
  std::vector<double> out{eps};
  if (auto* list = std::get_if<std::vector<double>>(&t)) out.insert(out.end(), list->begin(), list->end());
  else out.resize(top_n, std::get<double>(t));
  return out;
}

int64_t TopNGatingOptions::capacity(int64_t n, bool training) const {
  if (dropless) return n;  // an expert takes each token once at most: room for all
  const double factor = training ? capacity_factor_train : capacity_factor_eval;
  // Compared in double before the conversion: a huge factor means "all n tokens", never a
  // wrapped int64 (which collapsed to min_expert_capacity).
  const double scaled = (static_cast<double>(n) * factor) / static_cast<double>(num_gates);
  const int64_t capped = scaled >= static_cast<double>(n) ? n : checked_floor_to_int64(scaled, "expert capacity");
  return std::max(capped, min_expert_capacity);
}

Tensor noised_logits(const Tensor& logits, const GatingCall& call) {
  if (!call.noise_gates) return logits;
  Tensor g = call.gate_noise;
  if (!g.defined()) {
    MOEGRAD_CHECK(call.gen != nullptr, "gating: noise_gates needs gate_noise or a generator");
    g = gumbel_noise(logits.shape(), *call.gen, logits.dtype(), logits.backend());
  }
  MOEGRAD_CHECK(g.shape() == logits.shape(), "gating: gate_noise has shape ", g.shape(), ", expected ", logits.shape());
  return logits + call.noise_mult * core::to(g, logits.dtype());
}

Tensor Routing::tokens_per_expert() const {
  Tensor e_hot = core::one_hot(indices, raw_gates.size(-1), DType::i64, IndexCheck::trusted);  // (k, b, n, e)
  Tensor kept_i = core::to(core::unsqueeze(kept, -1), DType::i64);
  return core::sum(core::binary(BinaryOp::mul, e_hot, kept_i), {0, 1, 2});
}

Tensor Routing::first_choice() const {
  if (mode == RoutingMode::token_choice) return core::contiguous(choice(indices, 0));
  // gates (e, b, n) are the scores of the experts that took the token, 0 elsewhere.
  Tensor best = core::argmax(gates, 0);
  Tensor taken = core::binary(BinaryOp::gt, core::sum(core::to(kept, DType::i64), {0}), core::scalar_like(0.0, best));
  return core::where(taken, best, core::scalar_like(-1.0, best));
}

Routing Routing::part(int64_t axis, int64_t start, int64_t length) const {
  Routing p = *this;
  auto per_choice = [&](const Tensor& t) { return core::contiguous(core::narrow(t, axis + 1, start, length)); };
  auto per_token = [&](const Tensor& t) { return t.defined() ? core::narrow(t, axis, start, length) : t; };
  p.indices = per_choice(indices);
  p.routed = per_choice(routed);
  p.kept = per_choice(kept);
  p.slots = per_choice(slots);
  p.gates = narrow(gates, axis + 1, start, length);
  p.logits = per_token(logits);
  p.raw_gates = per_token(raw_gates);
  return p;
}

double Routing::dropped_fraction() const {
  const auto routed_count = static_cast<double>(core::sum(routed).item<int64_t>());
  const auto kept_count = static_cast<double>(core::sum(kept).item<int64_t>());
  return routed_count > 0 ? (routed_count - kept_count) / routed_count : 0.0;
}

TopNGating::TopNGating(const TopNGatingOptions& opt, Generator& gen, DType dtype, bool with_projection)
    : options(opt) {
  opt.validate();
  if (with_projection) {
    register_module("to_gates", to_gates, std::make_shared<nn::Linear>(opt.dim, opt.num_gates, /*bias=*/false, gen, dtype));
  }
  threshold_train = from_vector(opt.threshold_vector(true), {}, dtype);
  threshold_eval = from_vector(opt.threshold_vector(false), {}, dtype);
  register_buffer("threshold_train", threshold_train);
  register_buffer("threshold_eval", threshold_eval);
  if (opt.expert_bias) {
    expert_bias = zeros({opt.num_gates}, dtype);
    register_buffer("expert_bias", expert_bias);
  }
}

GatingCall TopNGating::with_generator(const GatingCall& call) {
  GatingCall c = call;
  if (!c.gen) c.gen = &generator;
  return c;
}

Tensor TopNGating::logits(const Tensor& x) {
  MOEGRAD_CHECK(to_gates != nullptr, "TopNGating: built without a projection; use route_probabilities");
  MOEGRAD_CHECK(x.dim() == 3 && x.size(-1) == options.dim, "TopNGating: input of shape ", x.shape(),
                " must be (batch, seq, dim=", options.dim, ")");
  return to_gates->forward(x);
}

Routing TopNGating::route(const Tensor& x, const GatingCall& given) { return route_logits(logits(x), given); }

Routing TopNGating::route_logits(const Tensor& logits, const GatingCall& given) {
  const GatingCall call = with_generator(given);
  Tensor noised = noised_logits(logits, call);
  Tensor scores = options.score_function == ScoreFunction::sigmoid ? sigmoid(noised) : softmax(noised, -1);
  return route_probabilities(logits, scores, call);
}

namespace {

// Threshold routing: choice j > 0 survives where u < gate_j / max(threshold_j, eps).
Tensor threshold_routed(const Tensor& gates, const Tensor& thresholds, const GatingCall& call, double eps) {
  const int64_t k = gates.size(0), b = gates.size(1), n = gates.size(2);
  const DType dt = gates.dtype();
  Tensor u = call.route_uniforms;
  if (!u.defined()) {
    MOEGRAD_CHECK(call.gen != nullptr, "TopNGating: route_uniforms or a generator is needed");
    u = rand({k, b, n}, *call.gen, dt, gates.backend());
  }
  MOEGRAD_CHECK(u.shape() == Shape({k, b, n}), "TopNGating: route_uniforms has shape ", u.shape(),
                ", expected (top_n, batch, seq) = ", Shape{k, b, n});
  Tensor ratio = core::binary(BinaryOp::div, detach(gates),
                              core::clamp(core::to(core::reshape(thresholds, {k, 1, 1}), dt), eps, kInf));
  Tensor routed = core::binary(BinaryOp::lt, core::to(u, dt), ratio);
  core::fill_(core::narrow(routed, 0, 0, 1), 1.0);
  return routed;
}

}  // namespace

void TopNGating::choose_by_token(Routing& r, const GatingCall& call) {
  const int64_t e = options.num_gates, k = options.top_n;
  const int64_t b = r.raw_gates.size(0);
  const DType dt = r.raw_gates.dtype();

  // Top-n choices; with differentiable_topk the gate values are the coordinate-descent mask.
  // With an expert bias the bias picks the experts, and the gates stay the unbiased scores.
  Tensor top_values, top_indices;  // (b, n, k)
  if (options.differentiable_topk) {
    CoorDescentTopkOptions o;
    o.k = k;
    CoorDescentTopkResult t = coor_descent_topk(r.raw_gates, o);
    top_values = t.coor_descent_values;
    top_indices = t.indices;
  } else if (expert_bias.defined()) {
    Tensor biased = core::binary(BinaryOp::add, detach(r.raw_gates), core::reshape(expert_bias, {1, 1, e}));
    top_indices = core::topk(biased, k, -1).second;
    top_values = gather(r.raw_gates, -1, top_indices, IndexCheck::trusted);
  } else {
    std::tie(top_values, top_indices) = topk(r.raw_gates, k, -1);
  }
  r.indices = core::contiguous(core::permute(top_indices, {2, 0, 1}));  // (k, b, n)
  Tensor gates = permute(top_values, {2, 0, 1});
  if (options.renormalize_gates) gates = gates / clamp(sum(gates, {0}, /*keepdim=*/true), options.eps, kInf);

  r.routed = threshold_routed(gates, is_training() ? threshold_train : threshold_eval, call, options.eps);

  // Capacity, choice by choice: slots are the exclusive count of routed tokens before this
  // one (the mask after threshold routing, before any drop), offset by the KEPT tokens of
  // every earlier choice at the same expert (st-moe's accumulated offsets).
  Tensor mask = core::binary(BinaryOp::mul, core::one_hot(r.indices, e, dt, IndexCheck::trusted),
                             core::to(core::unsqueeze(r.routed, -1), dt));  // (k, b, n, e)
  Tensor before = core::cumsum(mask, 2, /*exclusive=*/true);
  Tensor offset = zeros({b, 1, e}, dt, mask.backend());
  Tensor c = core::scalar_like(static_cast<double>(r.capacity), mask);
  TensorList kept_masks, slots;
  for (int64_t j = 0; j < k; ++j) {
    Tensor mj = choice(mask, j);
    Tensor pos = core::binary(BinaryOp::mul, core::binary(BinaryOp::add, choice(before, j), offset), mj);
    Tensor kept_j = core::binary(BinaryOp::mul, mj, core::to(core::binary(BinaryOp::lt, pos, c), dt));
    offset = core::binary(BinaryOp::add, offset, core::sum(kept_j, {1}, /*keepdim=*/true));
    kept_masks.push_back(kept_j);
    slots.push_back(core::to(core::sum(pos, {-1}), DType::i64));
  }
  Tensor kept_mask = core::stack(kept_masks, 0);  // (k, b, n, e)
  r.slots = core::stack(slots, 0);
  r.kept = core::binary(BinaryOp::gt, core::sum(kept_mask, {-1}), core::scalar_like(0.0, kept_mask));
  r.gates = gates * core::to(r.kept, dt);
}

// Zhou et al. 2022 (arXiv 2202.09368), eq. 1-2: G, I = TopK(S^T, c) per expert over the
// group's tokens, S the token-to-expert scores. Written as e choices per token, choice j
// being expert j, kept where expert j took the token; its gate is the score itself.
void TopNGating::choose_by_expert(Routing& r) {
  const int64_t e = options.num_gates;
  const int64_t b = r.raw_gates.size(0), n = r.raw_gates.size(1);
  const DType dt = r.raw_gates.dtype();
  const int64_t c = std::min(r.capacity, n);
  Tensor per_expert = core::permute(detach(r.raw_gates), {0, 2, 1});  // (b, e, n)
  Tensor taken = core::topk(per_expert, c, -1).second;                  // (b, e, c) token ids
  Tensor chosen = core::sum(core::one_hot(taken, n, dt, IndexCheck::trusted), {2});  // (b, e, n)
  Tensor kept = core::contiguous(core::permute(chosen, {1, 0, 2}));                  // (e, b, n)
  r.kept = core::binary(BinaryOp::gt, kept, core::scalar_like(0.0, kept));
  r.routed = r.kept;
  Tensor expert_ids = arange(0.0, static_cast<double>(e), 1.0, DType::i64, r.raw_gates.backend());
  r.indices = core::contiguous(core::expand(core::reshape(expert_ids, {e, 1, 1}), {e, b, n}));
  // A taken token's place in its expert's buffer: the tokens taken before it, in token order.
  r.slots = core::to(core::cumsum(kept, 2, /*exclusive=*/true), DType::i64);
  r.gates = permute(r.raw_gates, {2, 0, 1}) * core::to(r.kept, dt);
}

Routing TopNGating::route_probabilities(const Tensor& logits, const Tensor& raw_gates,
                                        const GatingCall& given) {
  const GatingCall call = with_generator(given);
  const int64_t e = options.num_gates;
  MOEGRAD_CHECK(raw_gates.dim() == 3 && raw_gates.size(-1) == e, "TopNGating: gate probabilities of shape ",
                raw_gates.shape(), " must be (batch, seq, num_gates=", e, ")");
  const int64_t n = raw_gates.size(1);
  const bool training = is_training();
  Routing r;
  r.mode = options.routing;
  r.dropless = options.dropless;
  r.capacity = options.capacity(n, training);
  r.logits = logits;
  r.raw_gates = raw_gates;
  if (options.routing == RoutingMode::expert_choice) choose_by_expert(r);
  else choose_by_token(r, call);

  const DType dt = raw_gates.dtype();
  if (training) {
    // Expert choice balances by construction (each expert takes c tokens): no balance loss.
    const BalanceLoss kind = options.routing == RoutingMode::expert_choice ? BalanceLoss::none : options.balance_loss;
    r.balance_loss = balance_loss(kind, r, options.top_n, options.score_function == ScoreFunction::sigmoid);
    if (options.router_z_loss) {
      Tensor lse = logsumexp(logits, {-1});
      r.router_z_loss = mean(lse * lse);
    } else {
      r.router_z_loss = zeros({1}, dt, raw_gates.backend());
    }
    if (expert_bias.defined()) accumulate_load(r);
  } else {
    r.balance_loss = zeros({1}, dt, raw_gates.backend());
    r.router_z_loss = zeros({1}, dt, raw_gates.backend());
  }
  return r;
}

void TopNGating::accumulate_load(const Routing& r) {
  // The load that moves the bias: the choices routed to each expert (what the biased top-k
  // asked for), summed over the forwards since the last optimizer step.
  Tensor hot = core::one_hot(r.indices, options.num_gates, expert_bias.dtype(), IndexCheck::trusted);  // (k, b, n, e)
  Tensor routed = core::to(core::unsqueeze(r.routed, -1), expert_bias.dtype());
  Tensor load = core::sum(core::binary(BinaryOp::mul, hot, routed), {0, 1, 2});
  pending_load_ = pending_load_.defined() ? core::binary(BinaryOp::add, pending_load_, load) : load;
}

void TopNGating::on_optimizer_step() {
  if (!expert_bias.defined() || !pending_load_.defined()) return;
  // DeepSeek-V3 (arXiv 2412.19437) section 2.1.2: b_i += gamma * sign(mean load - load_i).
  Tensor mean_load = core::mean(pending_load_, {0}, /*keepdim=*/true);
  Tensor step = core::unary(UnaryOp::sign, core::binary(BinaryOp::sub, mean_load, pending_load_));
  Tensor moved = core::binary(
      BinaryOp::add, expert_bias,
      core::binary(BinaryOp::mul, step, core::scalar_like(options.expert_bias_update_rate, step)));
  core::copy_(expert_bias, moved);
  pending_load_ = Tensor();
}

std::pair<Tensor, Tensor> TopNGating::dense_tensors(const Routing& r, bool straight_through) {
  const int64_t k = r.indices.size(0), e = r.raw_gates.size(-1), c = r.capacity;
  const DType dt = r.gates.dtype();
  Tensor slot_ids = arange(0.0, static_cast<double>(c), 1.0, DType::i64, r.gates.backend());
  Tensor combine;
  for (int64_t j = 0; j < k; ++j) {
    Tensor expert_hot = core::one_hot(choice(r.indices, j), e, dt, IndexCheck::trusted);  // (b, n, e)
    // A slot >= c matches no column: the reference's safe one-hot.
    Tensor slot_hot = core::to(core::binary(BinaryOp::eq, core::unsqueeze(choice(r.slots, j), -1), slot_ids), dt);
    Tensor kept = core::to(choice(r.kept, j), dt);
    Tensor place = core::binary(BinaryOp::mul, core::unsqueeze(expert_hot, -1), core::unsqueeze(slot_hot, -2));
    Tensor weight = squeeze(narrow(r.gates, 0, j, 1), 0);  // differentiable, unlike choice()
    Tensor term = unsqueeze(unsqueeze(weight * kept, -1), -1) * place;
    combine = combine.defined() ? combine + term : term;
  }
  Tensor dispatch = core::to(core::binary(BinaryOp::ne, combine, core::scalar_like(0.0, combine)), dt);
  if (straight_through) dispatch = dispatch + combine - detach(combine);
  return {dispatch, combine};
}

GatingOutput TopNGating::forward(const Tensor& x, const GatingCall& call) {
  GatingOutput out;
  out.routing = route(x, call);
  std::tie(out.dispatch_tensor, out.combine_tensor) =
      dense_tensors(out.routing, options.straight_through_dispatch_tensor);
  out.balance_loss = out.routing.balance_loss;
  out.router_z_loss = out.routing.router_z_loss;
  return out;
}

}  // namespace moegrad::moe
