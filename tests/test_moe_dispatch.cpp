// The dense (reference) and indexed dispatch paths agree, in values and in every
// gradient, on random configurations beyond the fixtures.
#include <catch2/catch.hpp>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/moe/moe.h"

using namespace moegrad;
using namespace moegrad::moe;

namespace {

struct Run {
  std::vector<double> out, aux, grad_x;
  std::vector<std::vector<double>> grad_params;
};

Run run_block(const SparseMoEBlockOptions& opt, Dispatch dispatch, bool training, const Tensor& x_in,
              const Tensor& u, const Tensor& cot, uint64_t seed) {
  SparseMoEBlockOptions o = opt;
  o.moe.dispatch = dispatch;
  Generator gen(seed);
  SparseMoEBlock block(o, gen, DType::f64);
  block.train(training);
  Tensor x = requires_grad_(core::clone(x_in));
  GatingCall call;
  call.route_uniforms = u;
  MoEOutput out = block.forward(x, call);
  Tensor loss = sum(out.outputs * cot);
  if (training) loss = loss + out.total_aux_loss;
  backward(loss);
  Run r{out.outputs.to_vector<double>(), out.total_aux_loss.to_vector<double>(), grad(x).to_vector<double>(), {}};
  for (const Tensor& p : block.parameters()) {
    Tensor g = grad(p);
    r.grad_params.push_back(g.defined() ? g.to_vector<double>() : std::vector<double>(p.numel(), 0.0));
  }
  return r;
}

void check_same(const std::vector<double>& a, const std::vector<double>& b, const std::string& what) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(what << " element " << i);
    CHECK(a[i] == Approx(b[i]).margin(1e-12).epsilon(1e-10));
  }
}

}  // namespace

TEST_CASE("dense and indexed dispatch agree on random configurations", "[moe]") {
  Generator cfg(2024);
  for (int trial = 0; trial < 12; ++trial) {
    SparseMoEBlockOptions o;
    const int64_t e = 2 + static_cast<int64_t>(cfg.next_u64() % 4);
    o.moe.dim = 3 + static_cast<int64_t>(cfg.next_u64() % 4);
    o.moe.num_experts = e;
    o.moe.top_n = 1 + static_cast<int64_t>(cfg.next_u64() % e);
    o.moe.expert_hidden_mult = 2.0;
    o.moe.capacity_factor_train = 0.5 + cfg.next_double();
    o.moe.capacity_factor_eval = 1.0 + cfg.next_double();
    o.moe.threshold_train = 0.3 * cfg.next_double();
    o.moe.straight_through_dispatch_tensor = cfg.next_u64() % 4 != 0;
    o.moe.differentiable_topk = cfg.next_u64() % 3 == 0;
    o.add_ff_before = cfg.next_u64() % 2 == 0;
    const bool training = trial % 4 != 3;
    const int64_t b = 1 + static_cast<int64_t>(cfg.next_u64() % 3), n = 4 + static_cast<int64_t>(cfg.next_u64() % 9);
    Tensor x = randn({b, n, o.moe.dim}, cfg, DType::f64);
    Tensor u = rand({o.moe.top_n, b, n}, cfg, DType::f64);
    Tensor cot = randn({b, n, o.moe.dim}, cfg, DType::f64);
    INFO("trial " << trial << ": e=" << e << " k=" << o.moe.top_n << " b=" << b << " n=" << n
                  << " st=" << o.moe.straight_through_dispatch_tensor << " dtopk=" << o.moe.differentiable_topk
                  << " training=" << training);
    Run dense = run_block(o, Dispatch::dense, training, x, u, cot, 77 + trial);
    Run indexed = run_block(o, Dispatch::indexed, training, x, u, cot, 77 + trial);
    check_same(dense.out, indexed.out, "outputs");
    check_same(dense.aux, indexed.aux, "total_aux_loss");
    check_same(dense.grad_x, indexed.grad_x, "grad x");
    REQUIRE(dense.grad_params.size() == indexed.grad_params.size());
    for (size_t p = 0; p < dense.grad_params.size(); ++p)
      check_same(dense.grad_params[p], indexed.grad_params[p], "grad param " + std::to_string(p));
  }
}

TEST_CASE("an expert that receives no token still gets (zero) gradients", "[moe]") {
  Generator gen(1);
  MoEOptions o{.dim = 4, .num_experts = 3, .top_n = 1};
  MoE m(o, gen, DType::f64);
  // Route everything to expert 0.
  core::fill_(m.gate->to_gates->weight, 0.0);
  core::fill_(core::narrow(m.gate->to_gates->weight, 0, 0, 1), 1.0);
  Tensor x = full({1, 5, 4}, 1.0, DType::f64);
  GatingCall call;
  call.gen = &gen;
  MoEOutput out = m.forward(x, call);
  CHECK(out.routing.tokens_per_expert().to_vector<int64_t>() == std::vector<int64_t>{4, 0, 0});
  backward(sum(out.outputs));
  for (const Tensor& p : m.experts->operator[](2).parameters()) {
    REQUIRE(grad(p).defined());
    for (double v : grad(p).to_vector<double>()) CHECK(v == 0.0);
  }
}

TEST_CASE("MoE with an MoERouter: the router's probabilities drive the gating", "[moe]") {
  Generator gen(3);
  MoEOptions o{.dim = 6, .num_experts = 4, .top_n = 2};
  o.router = MoERouterOptions{.hidden_layers = std::vector<int64_t>{8}};
  MoE m(o, gen, DType::f64);
  std::vector<std::string> names;
  for (auto& [n, p] : m.named_parameters()) names.push_back(n);
  CHECK(std::find(names.begin(), names.end(), "gate.to_gates.weight") == names.end());
  CHECK(std::find(names.begin(), names.end(), "router.layers.0.weight") != names.end());
  Tensor x = randn({2, 5, 6}, gen, DType::f64);
  GatingCall call;
  call.gen = &gen;
  MoEOutput out = m.forward(x, call);
  backward(sum(out.outputs) + out.total_aux_loss);
  CHECK(grad(m.router->layers->operator[](0)->parameters()[0]).defined());
  // Its first choices are the router's most probable experts.
  Tensor probs = m.router->forward(x);
  CHECK(core::argmax(probs, -1).to_vector<int64_t>() ==
        core::reshape(core::narrow(out.routing.indices, 0, 0, 1), {2, 5}).to_vector<int64_t>());

  // gumbel: the hard sample is the first choice.
  o.router->mechanism = RouterMechanism::gumbel;
  MoE g(o, gen, DType::f64);
  MoEOutput gout = g.forward(x, call);
  CHECK(gout.outputs.shape() == Shape{2, 5, 6});
  auto first = core::narrow(gout.routing.gates, 0, 0, 1).to_vector<double>();
  auto kept = core::narrow(gout.routing.kept, 0, 0, 1).to_vector<bool>();
  for (size_t i = 0; i < first.size(); ++i)
    if (kept[i]) CHECK(first[i] == Approx(1.0));  // one-hot probabilities: all weight on the sample
}
