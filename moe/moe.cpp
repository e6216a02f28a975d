#include "moegrad/moe/moe.h"

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::moe {

ExpertOptions MoEOptions::expert() const {
  return {.dim = dim, .hidden_mult = expert_hidden_mult, .kind = expert_kind};
}

ExpertOptions SparseMoEBlockOptions::feedforward() const {
  return {.dim = moe.dim, .prenorm = true, .kind = moe.expert_kind};
}

TopNGatingOptions MoEOptions::gating() const {
  TopNGatingOptions g;
  g.dim = dim;
  g.num_gates = num_experts;
  // Every routing field, by name; min_expert_capacity stays 4: MoE does not pass it on
  // upstream either.
  copy_shared_fields(fields(), *this, TopNGatingOptions::fields(), g, {"dim"});
  return g;
}

void MoEOptions::validate() const {
  check_field_ranges(fields(), *this);
  if (top_n > num_experts)
    throw ConfigError("top_n", str_cat("must be in [1, num_experts=", num_experts, "], got ", top_n));
  if (dropless && dispatch == Dispatch::dense)
    throw ConfigError("dropless", "needs dispatch: indexed (the dense dispatch's tensors are capacity-shaped)");
  if (score_function == ScoreFunction::sigmoid && router)
    throw ConfigError("score_function", "sigmoid needs the gating's own projection (router: null)");
  TopNGatingOptions g = gating();
  try {
    g.validate();
  } catch (const ConfigError& err) {
    // Report in MoE's own vocabulary.
    std::string key = err.key() == "num_gates" ? "num_experts" : err.key();
    throw ConfigError(key, err.message());
  }
  try {
    expert().validate();
  } catch (const ConfigError& err) {
    // Named as MoE's own options name them.
    throw ConfigError(err.key() == "kind"          ? "expert_kind"
                      : err.key() == "hidden_mult" ? "expert_hidden_mult"
                                                   : err.key(),
                      err.message());
  }
  if (router) {
    MoERouterOptions r = *router;
    r.dim = dim;
    r.num_experts = num_experts;
    try {
      r.validate();
    } catch (const ConfigError& err) {
      throw ConfigError("router." + err.key(), err.message());
    }
  }
}

MoE::MoE(const MoEOptions& opt, Generator& gen, DType dtype) : options(opt) {
  opt.validate();
  register_module("gate", gate, std::make_shared<TopNGating>(opt.gating(), gen, dtype,
                                                                /*with_projection=*/!opt.router));
  register_module("experts", experts, std::make_shared<Experts>(opt.num_experts, opt.expert(), gen, dtype));
  if (opt.num_shared_experts > 0) {
    register_module("shared_experts", shared_experts, std::make_shared<nn::ModuleList<Expert>>());
    for (int64_t i = 0; i < opt.num_shared_experts; ++i)
      shared_experts->push_back(std::make_shared<Expert>(opt.expert(), gen, dtype));
  }
  if (opt.router) {
    MoERouterOptions r = *opt.router;
    r.dim = opt.dim;
    r.num_experts = opt.num_experts;
    register_module("router", router, std::make_shared<MoERouter>(r, gen, dtype));
  }
}

Routing MoE::route(const Tensor& x, const GatingCall& given) {
  // Under data parallelism the whole batch's logits: the rest of the decision is then the
  // single process's, on every rank.
  auto whole = [&](const Tensor& t) {
    return split_batch(given) ? all_gather(t, *given.data_group, given.data_axis) : t;
  };
  if (!router) return gate->route_logits(whole(gate->logits(x)), given);
  const GatingCall call = gate->with_generator(given);
  router->set_generator(call.gen);
  Tensor logits = whole(router->logits(x));
  return gate->route_probabilities(logits, router->probabilities(noised_logits(logits, call)), call);
}

bool split_batch(const GatingCall& call) { return call.data_group != nullptr && call.data_group->size() > 1; }

MoEOutput MoE::forward(const Tensor& x, const GatingCall& call, PhaseTimes* times) {
  MoEOutput out;
  Routing own;  // the decision for this rank's part of the batch
  {
    PhaseClock clock(slot(times, &PhaseTimes::gating));
    out.routing = route(x, call);
    own = out.routing;
    if (split_batch(call)) {
      const int64_t part = x.size(call.data_axis);
      own = out.routing.part(call.data_axis, call.data_group->rank() * part, part);
    }
  }
  MOEGRAD_CHECK(experts->group() == nullptr || split_batch(call),
                "MoE: its experts are spread over ranks, so every forward needs the batch split over them (GatingCall::data_group)");
  const ExpertParallel ep{experts->group(), call.data_axis == 1};
  const ExpertParallel* spread = experts->group() ? &ep : nullptr;
  const bool st = options.straight_through_dispatch_tensor;
  out.outputs = options.dispatch == Dispatch::dense ? dense_dispatch(x, own, *experts, st, times, &out.trace, spread)
                                                    : indexed_dispatch(x, own, *experts, st, times, &out.trace, spread);
  if (shared_experts) {
    PhaseClock clock(slot(times, &PhaseTimes::experts));
    for (auto& shared : *shared_experts) out.outputs = out.outputs + shared->forward(x);
  }
  out.balance_loss = out.routing.balance_loss;
  out.router_z_loss = out.routing.router_z_loss;
  if (is_training()) {
    out.total_aux_loss = out.balance_loss * options.balance_loss_coef +
                         out.router_z_loss * options.router_z_loss_coef;
  } else {
    out.total_aux_loss = zeros({1}, x.dtype(), x.backend());
  }
  return out;
}

SparseMoEBlock::SparseMoEBlock(const SparseMoEBlockOptions& opt, Generator& gen, DType dtype) {
  opt.validate();
  register_module("moe", moe, std::make_shared<MoE>(opt.moe, gen, dtype));
  register_module("moe_prenorm", moe_prenorm, std::make_shared<nn::RMSNorm>(opt.moe.dim, dtype));
  if (opt.add_ff_before) register_module("ff_before", ff_before, std::make_shared<Expert>(opt.feedforward(), gen, dtype));
  if (opt.add_ff_after) register_module("ff_after", ff_after, std::make_shared<Expert>(opt.feedforward(), gen, dtype));
}

MoEOutput SparseMoEBlock::forward(const Tensor& x_in, const GatingCall& call, PhaseTimes* times) {
  Tensor x = x_in;
  if (ff_before) {
    PhaseClock clock(slot(times, &PhaseTimes::dense_ff));
    x = ff_before->forward(x) + x;
  }
  Tensor normed;
  {
    PhaseClock clock(slot(times, &PhaseTimes::gating));
    normed = moe_prenorm->forward(x);
  }
  MoEOutput out = moe->forward(normed, call, times);
  PhaseClock clock(slot(times, &PhaseTimes::dense_ff));
  x = out.outputs + x;
  if (ff_after) x = ff_after->forward(x) + x;
  out.outputs = x;
  return out;
}

}  // namespace moegrad::moe
