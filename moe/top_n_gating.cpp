#include "moegrad/moe/top_n_gating.h"

#include <cmath>
#include <limits>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/checked_math.h"
#include "moegrad/core/core.h"
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
}

std::vector<double> TopNGatingOptions::threshold_vector(bool training) const {
  const Threshold& t = training ? threshold_train : threshold_eval;
  std::vector<double> out{eps};
  if (auto* list = std::get_if<std::vector<double>>(&t)) out.insert(out.end(), list->begin(), list->end());
  else out.resize(top_n, std::get<double>(t));
  return out;
}

int64_t TopNGatingOptions::capacity(int64_t n, bool training) const {
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
}

GatingCall TopNGating::with_generator(const GatingCall& call) {
  GatingCall c = call;
  if (!c.gen) c.gen = &generator;
  return c;
}

Routing TopNGating::route(const Tensor& x, const GatingCall& given) {
  MOEGRAD_CHECK(to_gates != nullptr, "TopNGating: built without a projection; use route_probabilities");
  MOEGRAD_CHECK(x.dim() == 3 && x.size(-1) == options.dim, "TopNGating: input of shape ", x.shape(),
                " must be (batch, seq, dim=", options.dim, ")");
  const GatingCall call = with_generator(given);
  Tensor logits = to_gates->forward(x);
  return route_probabilities(logits, softmax(noised_logits(logits, call), -1), call);
}

Routing TopNGating::route_probabilities(const Tensor& logits, const Tensor& raw_gates,
                                        const GatingCall& given) {
  const GatingCall call = with_generator(given);
  const int64_t e = options.num_gates, k = options.top_n;
  MOEGRAD_CHECK(raw_gates.dim() == 3 && raw_gates.size(-1) == e, "TopNGating: gate probabilities of shape ",
                raw_gates.shape(), " must be (batch, seq, num_gates=", e, ")");
  const int64_t b = raw_gates.size(0), n = raw_gates.size(1);
  const DType dt = raw_gates.dtype();
  const bool training = is_training();
  Routing r;
  r.capacity = options.capacity(n, training);
  r.logits = logits;
  r.raw_gates = raw_gates;

  // Top-n choices; with differentiable_topk the gate values are the coordinate-descent mask.
  Tensor top_values, top_indices;  // (b, n, k)
  if (options.differentiable_topk) {
    CoorDescentTopkOptions o;
    o.k = k;
    o.fused = options.differentiable_topk_fused;
    CoorDescentTopkResult t = coor_descent_topk(raw_gates, o);
    top_values = t.coor_descent_values;
    top_indices = t.indices;
  } else {
    std::tie(top_values, top_indices) = topk(raw_gates, k, -1);
  }
  r.indices = core::contiguous(core::permute(top_indices, {2, 0, 1}));  // (k, b, n)
  Tensor gates = permute(top_values, {2, 0, 1});
  gates = gates / clamp(sum(gates, {0}, /*keepdim=*/true), options.eps, kInf);

  // Threshold routing: choice j > 0 survives where u < gate_j / max(threshold_j, eps).
  Tensor u = call.route_uniforms;
  if (!u.defined()) {
    MOEGRAD_CHECK(call.gen != nullptr, "TopNGating: route_uniforms or a generator is needed");
    u = rand({k, b, n}, *call.gen, dt, gates.backend());
  }
  MOEGRAD_CHECK(u.shape() == Shape({k, b, n}), "TopNGating: route_uniforms has shape ", u.shape(),
                ", expected (top_n, batch, seq) = ", Shape{k, b, n});
  Tensor thresholds = core::reshape(training ? threshold_train : threshold_eval, {k, 1, 1});
  Tensor ratio = core::binary(BinaryOp::div, detach(gates), core::clamp(core::to(thresholds, dt), options.eps, kInf));
  r.routed = core::binary(BinaryOp::lt, core::to(u, dt), ratio);
  core::fill_(core::narrow(r.routed, 0, 0, 1), 1.0);

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

  if (training) {
    // The balance loss reads choice 0's mask after the capacity drop (the reference's view).
    Tensor density = core::mean(choice(kept_mask, 0), {1});  // (b, e)
    Tensor proxy = mean(raw_gates, {1});                      // (b, e)
    r.balance_loss = mean(proxy * density) * static_cast<double>(e * e);
    Tensor lse = logsumexp(logits, {-1});
    r.router_z_loss = mean(lse * lse);
  } else {
    r.balance_loss = zeros({1}, dt, gates.backend());
    r.router_z_loss = zeros({1}, dt, gates.backend());
  }
  return r;
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
