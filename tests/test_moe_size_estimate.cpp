// The sizes the memory pre-checks estimate from options alone agree with the modules built
// from those options: parameter counts exactly, for every model kind the trainer builds.
#include <catch2/catch.hpp>

#include "moegrad/moe/moe.h"
#include "moegrad/moe/size_estimate.h"
#include "moegrad/train/config.h"
#include "moegrad/train/memory_estimate.h"
#include "moegrad/train/model.h"
#include "moegrad/train/model_kind.h"

using namespace moegrad;

namespace {
double parameter_count(const nn::Module& m) {
  double n = 0;
  for (const auto& [name, p] : m.named_parameters()) n += static_cast<double>(p.numel());
  return n;
}

moe::MoEOptions small_moe() {
  moe::MoEOptions o;
  o.dim = 12;
  o.num_experts = 3;
  o.expert_hidden_mult = 2.5;
  return o;
}
}  // namespace

TEST_CASE("parameter counts from options equal those of the built modules", "[moe]") {
  Generator gen(0);
  for (bool prenorm : {false, true})
    for (bool mult_bias : {false, true}) {
      const moe::ExpertOptions o{.dim = 10, .hidden_mult = 3.3, .mult_bias = mult_bias, .prenorm = prenorm};
      CHECK(moe::expert_parameter_count(o) == parameter_count(moe::Expert(o, gen)));
    }

  moe::MoERouterOptions widths{.dim = 12, .num_experts = 3, .hidden_layers = std::vector<int64_t>{5, 7}};
  moe::MoERouterOptions count{.dim = 12, .num_experts = 3, .hidden_layers = int64_t{2}};
  moe::MoERouterOptions none{.dim = 12, .num_experts = 3};
  for (const auto& r : {widths, count, none})
    CHECK(moe::router_parameter_count(r) == parameter_count(moe::MoERouter(r, gen)));

  moe::MoEOptions plain = small_moe(), routed = small_moe();
  routed.router = widths;
  for (const auto& o : {plain, routed}) {
    CHECK(moe::moe_parameter_count(o) == parameter_count(moe::MoE(o, gen)));
    for (bool before : {false, true}) {
      const moe::SparseMoEBlockOptions b{.moe = o, .add_ff_before = before, .add_ff_after = !before};
      CHECK(moe::block_parameter_count(b) == parameter_count(moe::SparseMoEBlock(b, gen)));
    }
  }
}

TEST_CASE("the dense path's capacity-shaped tensors are counted; the indexed path has none", "[moe]") {
  moe::MoEOptions dense = small_moe(), indexed = small_moe();
  dense.dispatch = moe::Dispatch::dense;
  indexed.dispatch = moe::Dispatch::indexed;
  const double n = 4096;
  // 2 * n * experts * capacity, at the larger capacity of train and eval.
  dense.capacity_factor_eval = indexed.capacity_factor_eval = 1.5;
  CHECK(moe::moe_activation_count(dense, 1, n) - moe::moe_activation_count(indexed, 1, n) ==
        2 * n * 3 * std::floor(n * 1.5 / 3));
}

TEST_CASE("a run's memory estimate counts exactly the parameters its model has", "[train]") {
  for (const char* kind : {"mlp_moe", "mlp_dense", "moe_lm"}) {
    CAPTURE(kind);
    const bool lm = std::string(kind) == "moe_lm";
    const train::Config c = train::parse_config(
        std::string("model:\n  kind: ") + kind + "\n  dim: 16\n  depth: 2\n  num_experts: 3\n" +
            (lm ? "  heads: 2\n  context: 8\ndata:\n  task: char_lm\n  seq_len: 8\n" : ""),
        "t.yaml");
    Generator gen(0);
    const auto model = train::make_model(c, /*vocab=*/256, gen, DType::f32);
    // Values and gradients in float32 and Adam's two moments.
    CHECK(train::estimate_memory(c).parameter_bytes == parameter_count(*model) * 4 * 4);
    // check-config's count of the parameters a token passes through is the built model's.
    CHECK(train::active_parameter_count(c) == static_cast<double>(model->active_parameters()));
    // 3 experts, top_n 2: one expert per MoE layer is idle; the dense model has none.
    const bool dense = std::string(kind) == "mlp_dense";
    CHECK((train::active_parameter_count(c) < parameter_count(*model)) == !dense);
  }
}
