#pragma once
// TopNGating (st-moe-pytorch; semantics in docs/moe_semantics.md): top-n routing with threshold routing,
// expert capacity, a balance loss and a router z-loss. The routing decision is kept in a
// Routing value that tests and the trainer can inspect; the dense dispatch and combine
// tensors of the spec are built from it on request.
//
// Shapes: b batch, n tokens per group, d model dim, e experts (num_gates), k top_n,
// c expert capacity.
#include <memory>
#include <variant>
#include <vector>

#include "moegrad/core/generator.h"
#include "moegrad/core/option_fields.h"
#include "moegrad/dist/communicator.h"
#include "moegrad/nn/linear.h"

namespace moegrad::moe {

// One number for every choice after the first, or one per choice (top_n - 1 of them).
using Threshold = NumberOrList;

// Who chooses: each token its top_n experts (st-moe, Switch, GShard, DeepSeek), or each
// expert its top-c tokens (Zhou et al. 2022, arXiv 2202.09368).
enum class RoutingMode { token_choice, expert_choice };
// What turns the gate logits into scores: softmax over experts (st-moe), or an independent
// sigmoid per expert (DeepSeek-V3, arXiv 2412.19437).
enum class ScoreFunction { softmax, sigmoid };
// The balance loss's formula (each cited where it is computed, moe/balance_loss.cpp).
enum class BalanceLoss { st_moe, switch_, gshard, seq_aux, none };

// The routing options TopNGating and MoE share, under the same names.
#define MOEGRAD_ROUTING_OPTIONS                                                              \
  int64_t top_n = 2;                                                                          \
  Threshold threshold_train = 0.2;                                                            \
  Threshold threshold_eval = 0.2;                                                             \
  double capacity_factor_train = 1.25;                                                        \
  double capacity_factor_eval = 2.0;                                                          \
  bool straight_through_dispatch_tensor = true;                                               \
  bool differentiable_topk = false;                                                           \
  bool differentiable_topk_fused = true; /* no fused CPU kernel: same results either way */   \
  RoutingMode routing = RoutingMode::token_choice;                                            \
  bool dropless = false; /* no capacity: every routed choice is kept */                       \
  ScoreFunction score_function = ScoreFunction::softmax;                                      \
  bool renormalize_gates = true; /* the top-n gates divided by their sum */                   \
  BalanceLoss balance_loss = BalanceLoss::st_moe;                                             \
  bool router_z_loss = true;                                                                  \
  bool expert_bias = false; /* DeepSeek-V3's aux-loss-free balancing */                       \
  double expert_bias_update_rate = 1e-3;

struct TopNGatingOptions {
  int64_t dim = 0;
  int64_t num_gates = 0;
  double eps = 1e-9;
  MOEGRAD_ROUTING_OPTIONS
  int64_t min_expert_capacity = 4;

  // Its fields, declared once (moe/option_fields.cpp).
  static const OptionFields<TopNGatingOptions>& fields();
  void validate() const;  // throws ConfigError naming the argument and the expected value
  // [eps, t_1, ..., t_{k-1}]: the threshold buffer.
  std::vector<double> threshold_vector(bool training) const;
  // max(min(n, int(n * capacity_factor / e)), min_expert_capacity), in double as Python does.
  int64_t capacity(int64_t n, bool training) const;
};

// Random draws for one forward call: passed in (tests, fixtures) or drawn from `gen`.
struct GatingCall {
  bool noise_gates = false;
  double noise_mult = 1.0;
  Tensor route_uniforms;  // (k, b, n) of the whole batch
  Tensor gate_noise;      // (b, n, e) of the whole batch, already -log(-log u)
  Generator* gen = nullptr;
  // Data parallelism: the input holds this rank's part of the batch along `data_axis` (0:
  // whole rows, 1: tokens of each row), equal parts in rank order over `data_group`. The
  // gating gathers every rank's logits and routes the whole batch, as one process would
  // (capacity, drops, balance losses and draws alike); each rank then sends its own part.
  dist::Communicator* data_group = nullptr;
  int64_t data_axis = 0;
};

// logits + noise_mult * gumbel noise when call.noise_gates (the given noise, or draws from
// call.gen), else the logits themselves.
Tensor noised_logits(const Tensor& logits, const GatingCall& call);

// The gating's decision for one batch.
struct Routing {
  RoutingMode mode = RoutingMode::token_choice;
  // Slots per expert and group; with dropless there is no cap (it is then n, room for all).
  int64_t capacity = 0;
  bool dropless = false;
  Tensor logits;     // (b, n, e) before noise
  Tensor raw_gates;  // (b, n, e) probabilities over experts
  Tensor indices;    // (k, b, n) int64: choice j's expert, in descending gate order
  Tensor gates;      // (k, b, n) normalised top-n gates times kept: the combine weights
  Tensor routed;     // (k, b, n) bool: passed threshold routing (choice 0 always)
  Tensor kept;       // (k, b, n) bool: routed and within the expert's capacity
  Tensor slots;      // (k, b, n) int64: position in the expert's buffer (>= c when dropped)
  Tensor balance_loss;
  Tensor router_z_loss;

  Tensor tokens_per_expert() const;  // (e) int64, kept choices per expert over the batch
  // (b, n) int64: each token's main expert (token choice: its first choice; expert choice:
  // the highest-scoring expert that took it, -1 when none did).
  Tensor first_choice() const;
  double dropped_fraction() const;   // capacity drops over routed choices
  // The decision for a part of the batch: `length` entries from `start` along `axis` of
  // (b, n); the gates keep their graph.
  Routing part(int64_t axis, int64_t start, int64_t length) const;
};

struct GatingOutput {
  Tensor dispatch_tensor;  // (b, n, e, c)
  Tensor combine_tensor;   // (b, n, e, c)
  Tensor balance_loss;
  Tensor router_z_loss;
  Routing routing;
};

class TopNGating : public nn::Module {
 public:
  // Without a projection, routing needs probabilities from elsewhere (an MoERouter).
  TopNGating(const TopNGatingOptions& opt, Generator& gen, DType dtype = DType::f32,
             bool with_projection = true);
  std::string type_name() const override { return "TopNGating"; }

  GatingOutput forward(const Tensor& x, const GatingCall& call = {});
  // The decision for x (b, n, d), logits from to_gates.
  Routing route(const Tensor& x, const GatingCall& call);
  // to_gates(x) for x (b, n, d): the logits route() decides from.
  Tensor logits(const Tensor& x);
  // The decision from given logits (b, n, e): noise, scores, route_probabilities.
  Routing route_logits(const Tensor& logits, const GatingCall& call);
  // The decision from given logits and probabilities (b, n, e), e.g. an MoERouter's.
  Routing route_probabilities(const Tensor& logits, const Tensor& raw_gates, const GatingCall& call);
  // The spec's dispatch and combine tensors (b, n, e, c) for a decision.
  static std::pair<Tensor, Tensor> dense_tensors(const Routing& r, bool straight_through);

  // `call`, drawing from this module's own generator when it brings neither its draws nor
  // a generator, so that forward(x) with the default call works (as torch's would).
  GatingCall with_generator(const GatingCall& call);

  const TopNGatingOptions options;
  std::shared_ptr<nn::Linear> to_gates;
  Tensor threshold_train;  // buffers, as in the reference's state_dict
  Tensor threshold_eval;
  // With options.expert_bias, a buffer (e): added to the scores that choose the experts.
  // Saved with the model, so a resumed run continues it bit for bit.
  Tensor expert_bias;
  // The draws of calls without a generator; a fixed seed, so two fresh modules route alike.
  Generator generator{0x6d6f6567726164ULL};

 protected:
  // Moves expert_bias by the load of the training forwards since the last step.
  void on_optimizer_step() override;

 private:
  void choose_by_token(Routing& r, const GatingCall& call);
  void choose_by_expert(Routing& r);
  void accumulate_load(const Routing& r);
  Tensor pending_load_;  // (e): routed choices per expert since the last optimizer step
};

}  // namespace moegrad::moe
