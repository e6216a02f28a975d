#pragma once
// MoE and SparseMoEBlock (st-moe-pytorch; semantics in docs/moe_semantics.md).
#include <memory>
#include <optional>

#include "moegrad/moe/dispatch.h"
#include "moegrad/moe/expert.h"
#include "moegrad/moe/moe_router.h"
#include "moegrad/moe/top_n_gating.h"
#include "moegrad/nn/normalization.h"

namespace moegrad::moe {

struct MoEOptions {
  int64_t dim = 0;
  int64_t num_experts = 16;
  double expert_hidden_mult = 4.0;
  std::string expert_kind = "geglu";  // every expert's kind, ff_before/after's too (expert_kind.h)
  MOEGRAD_ROUTING_OPTIONS  // top_n is the reference's gating_top_n
  double balance_loss_coef = 1e-2;
  double router_z_loss_coef = 1e-3;
  // DeepSeekMoE's shared experts (arXiv 2401.06066): every token passes through them, and
  // their outputs are added to the routed ones.
  int64_t num_shared_experts = 0;
  // Gate probabilities from an MoERouter (its hidden layers and mechanism) instead of the
  // gating's single linear layer; dim and num_experts are taken from above.
  std::optional<MoERouterOptions> router = std::nullopt;
  Dispatch dispatch = Dispatch::indexed;

  // Its fields, declared once (moe/option_fields.cpp); `router` is not among them: an
  // optional struct, read by each format on its own.
  static const OptionFields<MoEOptions>& fields();
  void validate() const;  // throws ConfigError naming the argument
  TopNGatingOptions gating() const;
  ExpertOptions expert() const;  // each routed expert
};

struct MoEOutput {
  Tensor outputs;  // (b, n, d)
  Tensor total_aux_loss;
  Tensor balance_loss;
  Tensor router_z_loss;
  // The whole batch's decision, also under data parallelism (GatingCall::data_group), where
  // outputs are this rank's part only: every rank's metrics are then the single process's.
  Routing routing;
  DispatchTrace trace;
};

class MoE : public nn::Module {
 public:
  MoE(const MoEOptions& opt, Generator& gen, DType dtype = DType::f32);
  std::string type_name() const override { return "MoE"; }
  MoEOutput forward(const Tensor& x, const GatingCall& call = {}, PhaseTimes* times = nullptr);

  MoEOptions options;
  std::shared_ptr<TopNGating> gate;
  std::shared_ptr<Experts> experts;
  std::shared_ptr<nn::ModuleList<Expert>> shared_experts;  // null without num_shared_experts
  std::shared_ptr<MoERouter> router;  // null unless options.router

 private:
  // From the gating's own projection, or from the router's probabilities.
  Routing route(const Tensor& x, const GatingCall& call);
};

// Whether `call` splits the batch over more than one rank.
bool split_batch(const GatingCall& call);

struct SparseMoEBlockOptions {
  MoEOptions moe;
  bool add_ff_before = false;
  bool add_ff_after = true;
  static const OptionFields<SparseMoEBlockOptions>& fields();  // moe's, then its own
  void validate() const { moe.validate(); }
  ExpertOptions feedforward() const;  // ff_before and ff_after
};

// [x = ff_before(x) + x]; x = moe(moe_prenorm(x)).outputs + x; [x = ff_after(x) + x], the
// feedforwards being Expert(dim, prenorm=true).
class SparseMoEBlock : public nn::Module {
 public:
  SparseMoEBlock(const SparseMoEBlockOptions& opt, Generator& gen, DType dtype = DType::f32);
  std::string type_name() const override { return "SparseMoEBlock"; }
  MoEOutput forward(const Tensor& x, const GatingCall& call = {}, PhaseTimes* times = nullptr);

  std::shared_ptr<MoE> moe;
  std::shared_ptr<nn::RMSNorm> moe_prenorm;
  std::shared_ptr<Expert> ff_before;  // null when absent
  std::shared_ptr<Expert> ff_after;
};

}  // namespace moegrad::moe
