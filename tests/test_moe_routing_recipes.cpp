// The routing recipes beside st-moe's (issue 14): each against a closed form on a small
// hand-made case, gradchecked where it is differentiable, and equal to the existing path
// where the two should agree.
#include <catch2/catch.hpp>

#include "config_errors.h"

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/moe/moe.h"
#include "moegrad/moe/size_estimate.h"
#include "moegrad/train/cluster_task.h"

using namespace moegrad;
using namespace moegrad::moe;

namespace {

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

using test::config_error;

// The 2 x 3 case: two tokens, three experts, both tokens' first choice expert 0; their
// second choices are experts 1 and 2. With capacity 1 token 1's first choice is dropped.
const std::vector<double> kLogits = {3.0, 1.0, 0.0, 2.0, 0.5, 1.0};

TopNGatingOptions two_by_three(BalanceLoss kind) {
  TopNGatingOptions o;
  o.dim = 1;
  o.num_gates = 3;
  o.top_n = 2;
  o.capacity_factor_train = 0.1;  // capacity max(min(2, 0), 1) = 1
  o.min_expert_capacity = 1;
  o.balance_loss = kind;
  return o;
}

struct LossAndGrad {
  double loss;
  std::vector<double> grad;  // d loss / d logits, (2, 3)
};

LossAndGrad routed_loss(const TopNGatingOptions& o, bool z_loss_too = false) {
  Generator gen(1);
  TopNGating gating(o, gen, DType::f64, /*with_projection=*/false);
  Tensor logits = requires_grad_(from_vector(kLogits, {1, 2, 3}, DType::f64));
  GatingCall call;
  call.route_uniforms = zeros({2, 1, 2}, DType::f64);  // every choice passes threshold routing
  Routing r = gating.route_probabilities(logits, softmax(logits, -1), call);
  Tensor loss = sum(z_loss_too ? r.router_z_loss : r.balance_loss);
  if (requires_grad(loss)) backward(loss);  // `none` and a switched-off z-loss are constants
  Tensor g = grad(logits);
  return {loss.item<double>(), g.defined() ? values(g) : std::vector<double>(6, 0.0)};
}

// sum_i c_i * mean_t P[t, i] and its gradient through the softmax:
// d/dz[t, j] = (1/n) sum_i c_i P[t, i] (delta_ij - P[t, j]).
LossAndGrad closed_form(const std::vector<double>& c) {
  std::vector<double> p(6);
  for (int t = 0; t < 2; ++t) {
    double s = 0;
    for (int i = 0; i < 3; ++i) s += std::exp(kLogits[t * 3 + i]);
    for (int i = 0; i < 3; ++i) p[t * 3 + i] = std::exp(kLogits[t * 3 + i]) / s;
  }
  LossAndGrad out{0, std::vector<double>(6, 0.0)};
  for (int i = 0; i < 3; ++i) out.loss += c[i] * (p[i] + p[3 + i]) / 2;
  for (int t = 0; t < 2; ++t)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 3; ++i)
        out.grad[t * 3 + j] += c[i] * p[t * 3 + i] * ((i == j ? 1.0 : 0.0) - p[t * 3 + j]) / 2;
  return out;
}

void check_close(const LossAndGrad& got, const LossAndGrad& want) {
  CHECK(got.loss == Approx(want.loss).epsilon(1e-12));
  for (size_t i = 0; i < want.grad.size(); ++i) {
    INFO("gradient element " << i);
    CHECK(got.grad[i] == Approx(want.grad[i]).margin(1e-14).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("each balance-loss dialect equals its closed form, value and gradient, on 2 tokens x 3 experts",
          "[moe][routing]") {
  const double e = 3;
  SECTION("st_moe: first choices kept after the capacity drop, per group") {
    // density = [1/2, 0, 0] (token 1's first choice dropped); loss = e * sum_i density_i P_i.
    check_close(routed_loss(two_by_three(BalanceLoss::st_moe)), closed_form({e * 0.5, 0, 0}));
  }
  SECTION("gshard: first choices before the drop") {
    check_close(routed_loss(two_by_three(BalanceLoss::gshard)), closed_form({e * 1.0, 0, 0}));
  }
  SECTION("switch: e * sum_i f_i P_i over all tokens") {
    check_close(routed_loss(two_by_three(BalanceLoss::switch_)), closed_form({e * 1.0, 0, 0}));
  }
  SECTION("seq_aux: f_i = e / (k n) * top-k count of i in the sequence") {
    // Top-2 counts: expert 0 twice, experts 1 and 2 once; e / (k n) = 3 / 4.
    check_close(routed_loss(two_by_three(BalanceLoss::seq_aux)), closed_form({1.5, 0.75, 0.75}));
  }
  SECTION("none") {
    LossAndGrad none = routed_loss(two_by_three(BalanceLoss::none));
    CHECK(none.loss == 0.0);
    CHECK(none.grad == std::vector<double>(6, 0.0));
  }
}

TEST_CASE("the router z-loss has its own switch and equals mean(logsumexp^2)", "[moe][routing]") {
  TopNGatingOptions o = two_by_three(BalanceLoss::st_moe);
  LossAndGrad on = routed_loss(o, /*z_loss_too=*/true);
  double want = 0;
  std::vector<double> want_grad(6);
  for (int t = 0; t < 2; ++t) {
    double s = 0;
    for (int i = 0; i < 3; ++i) s += std::exp(kLogits[t * 3 + i]);
    const double lse = std::log(s);
    want += lse * lse / 2;
    // d/dz lse^2 / n = 2 lse softmax(z) / n
    for (int i = 0; i < 3; ++i) want_grad[t * 3 + i] = lse * std::exp(kLogits[t * 3 + i]) / s;
  }
  check_close(on, {want, want_grad});
  o.router_z_loss = false;
  LossAndGrad off = routed_loss(o, /*z_loss_too=*/true);
  CHECK(off.loss == 0.0);
}

TEST_CASE("dropless keeps every choice, and equals the capacity path when that drops nothing", "[moe][routing]") {
  MoEOptions o;
  o.dim = 4;
  o.num_experts = 4;
  o.top_n = 2;
  o.expert_hidden_mult = 2.0;
  o.capacity_factor_train = 3.0;  // capacity 12 of 16 tokens
  Generator data(5);
  Tensor x_in = randn({1, 16, 4}, data, DType::f64);
  Tensor u = rand({2, 1, 16}, data, DType::f64);
  auto run = [&](bool dropless, const Tensor& input) {
    MoEOptions m = o;
    m.dropless = dropless;
    Generator gen(9);
    MoE moe(m, gen, DType::f64);
    Tensor x = requires_grad_(core::clone(input));
    GatingCall call;
    call.route_uniforms = u;
    MoEOutput out = moe.forward(x, call);
    backward(sum(out.outputs * out.outputs) + out.total_aux_loss);
    std::vector<std::vector<double>> grads{values(grad(x))};
    for (const Tensor& p : moe.parameters()) grads.push_back(values(grad(p)));
    return std::make_tuple(values(out.outputs), grads, out.routing.dropped_fraction(), out.routing.capacity);
  };
  auto [cap_out, cap_grads, cap_dropped, cap_c] = run(false, x_in);
  REQUIRE(cap_c < 16);
  REQUIRE(cap_dropped == 0.0);
  auto [dl_out, dl_grads, dl_dropped, dl_c] = run(true, x_in);
  CHECK(dl_c == 16);
  CHECK(dl_out == cap_out);
  CHECK(dl_grads == cap_grads);

  // Every token the same: all first choices go to one expert. The capacity path drops 4 of
  // 16; dropless keeps them all, so every token gets the same output.
  Tensor same = core::contiguous(core::expand(core::narrow(x_in, 1, 0, 1), {1, 16, 4}));
  auto [cap2_out, g1, cap2_dropped, c1] = run(false, same);
  auto [dl2_out, g2, dl2_dropped, c2] = run(true, same);
  CHECK(cap2_dropped > 0.0);
  CHECK(dl2_dropped == 0.0);
  for (int t = 1; t < 16; ++t)
    for (int d = 0; d < 4; ++d) CHECK(dl2_out[t * 4 + d] == dl2_out[d]);

  // The dense path's tensors are capacity-shaped: it refuses, naming the key.
  o.dropless = true;
  o.dispatch = Dispatch::dense;
  Generator gen(1);
  CHECK(config_error([&] { MoE m(o, gen); }) ==
        "dropless: needs dispatch: indexed (the dense dispatch's tensors are capacity-shaped)");
}

TEST_CASE("expert choice: each expert takes its top-c tokens, a token may get none or several", "[moe][routing]") {
  TopNGatingOptions o;
  o.dim = 1;
  o.num_gates = 2;
  o.routing = RoutingMode::expert_choice;
  o.capacity_factor_train = 1.0;  // c = 4 * 1 / 2 = 2 of 4 tokens
  o.min_expert_capacity = 1;
  Generator gen(1);
  TopNGating gating(o, gen, DType::f64, /*with_projection=*/false);
  // Scores (rows are tokens): expert 0 ranks tokens 0, 1, 2, 3; expert 1 ranks 0, 3, 2, 1.
  Tensor scores = from_vector(std::vector<double>{0.9, 0.8, 0.7, 0.1, 0.6, 0.2, 0.3, 0.5}, {1, 4, 2}, DType::f64);
  Routing r = gating.route_probabilities(log(scores), scores, {});
  CHECK(r.capacity == 2);
  // kept (e, b, n): expert 0 took tokens 0 and 1, expert 1 tokens 0 and 3; token 2 got none.
  CHECK(values(core::to(r.kept, DType::f64)) == std::vector<double>{1, 1, 0, 0, 1, 0, 0, 1});
  CHECK(values(r.gates) == std::vector<double>{0.9, 0.7, 0, 0, 0.8, 0, 0, 0.5});
  CHECK(values(r.slots) == std::vector<double>{0, 1, 2, 2, 0, 1, 1, 1});
  CHECK(r.tokens_per_expert().to_vector<int64_t>() == std::vector<int64_t>{2, 2});
  // Each token's main expert: the best-scoring one that took it, -1 for none.
  CHECK(r.first_choice().to_vector<int64_t>() == std::vector<int64_t>{0, 0, -1, 1});
  CHECK(r.dropped_fraction() == 0.0);
  CHECK(values(r.balance_loss) == std::vector<double>{0.0});  // balanced by construction

  SECTION("the gates' gradient, routing held fixed") {
    Tensor z = requires_grad_(from_vector(std::vector<double>{0.3, -0.2, 1.1, 0.4, -0.7, 0.9, 0.2, 0.0},
                                          {1, 4, 2}, DType::f64));
    GradcheckReport rep = gradcheck(
        [&](const TensorList& in) { return gating.route_probabilities(in[0], softmax(in[0], -1), {}).gates; }, {z});
    CHECK(rep.ok);
  }
}

TEST_CASE("expert choice and dense / indexed dispatch agree in values and gradients", "[moe][routing]") {
  for (RoutingMode mode : {RoutingMode::expert_choice, RoutingMode::token_choice}) {
    for (int64_t shared : {0, 2}) {
      INFO("mode " << static_cast<int>(mode) << " shared " << shared);
      MoEOptions o;
      o.dim = 5;
      o.num_experts = 3;
      o.expert_hidden_mult = 2.0;
      o.routing = mode;
      o.num_shared_experts = shared;
      o.capacity_factor_train = 1.5;
      Generator data(3);
      Tensor x_in = randn({2, 12, 5}, data, DType::f64);
      Tensor u = rand({2, 2, 12}, data, DType::f64);
      std::vector<std::vector<double>> results[2];
      for (int path = 0; path < 2; ++path) {
        MoEOptions m = o;
        m.dispatch = path == 0 ? Dispatch::dense : Dispatch::indexed;
        Generator gen(4);
        MoE moe(m, gen, DType::f64);
        Tensor x = requires_grad_(core::clone(x_in));
        GatingCall call;
        call.route_uniforms = u;
        MoEOutput out = moe.forward(x, call);
        backward(sum(out.outputs * out.outputs) + out.total_aux_loss);
        results[path].push_back(values(out.outputs));
        results[path].push_back(values(grad(x)));
        for (const Tensor& p : moe.parameters()) results[path].push_back(values(grad(p)));
      }
      REQUIRE(results[0].size() == results[1].size());
      for (size_t i = 0; i < results[0].size(); ++i)
        for (size_t j = 0; j < results[0][i].size(); ++j)
          CHECK(results[0][i][j] == Approx(results[1][i][j]).margin(1e-12).epsilon(1e-10));
    }
  }
}

TEST_CASE("shared experts are added to the routed output for every token", "[moe][routing]") {
  MoEOptions o;
  o.dim = 4;
  o.num_experts = 3;
  o.expert_hidden_mult = 2.0;
  o.num_shared_experts = 2;
  Generator gen(6);
  MoE with(o, gen, DType::f64);
  o.num_shared_experts = 0;
  Generator gen2(6);
  MoE without(o, gen2, DType::f64);
  // The routed part draws its weights first, so the two share them.
  without.load_state_dict(with.state_dict(), /*strict=*/false);
  CHECK(with.find_module("shared_experts.1.net") != nullptr);
  CHECK(with.num_parameters() == without.num_parameters() + 2 * (*without.experts)[0].num_parameters());
  Generator data(2);
  Tensor x = randn({1, 8, 4}, data, DType::f64);
  GatingCall call;
  call.route_uniforms = rand({2, 1, 8}, data, DType::f64);
  std::vector<double> got = values(with.forward(x, call).outputs);
  Tensor want = without.forward(x, call).outputs;
  for (auto& s : *with.shared_experts) want = want + s->forward(x);
  const std::vector<double> w = values(want);
  for (size_t i = 0; i < w.size(); ++i) CHECK(got[i] == Approx(w[i]).epsilon(1e-14));
}

TEST_CASE("sigmoid scores: top-k of sigmoid(logits), gates renormalised over the choices", "[moe][routing]") {
  TopNGatingOptions o = two_by_three(BalanceLoss::st_moe);
  o.score_function = ScoreFunction::sigmoid;
  o.capacity_factor_train = 10;
  Generator gen(1);
  TopNGating gating(o, gen, DType::f64, /*with_projection=*/false);
  Tensor logits = from_vector(kLogits, {1, 2, 3}, DType::f64);
  GatingCall call;
  call.route_uniforms = zeros({2, 1, 2}, DType::f64);
  Routing r = gating.route_probabilities(logits, sigmoid(logits), call);
  auto sig = [](double z) { return 1 / (1 + std::exp(-z)); };
  // Token 0 chose experts 0 (z=3) and 1 (z=1); token 1 experts 0 (z=2) and 2 (z=1).
  const double a = sig(3) + sig(1), b = sig(2) + sig(1);
  const std::vector<double> got = values(r.gates);
  const std::vector<double> want = {sig(3) / a, sig(2) / b, sig(1) / a, sig(1) / b};
  for (size_t i = 0; i < 4; ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-14));
  // seq_aux normalises sigmoid scores over the experts before averaging them.
  o.balance_loss = BalanceLoss::seq_aux;
  TopNGating seq(o, gen, DType::f64, false);
  Routing rs = seq.route_probabilities(logits, sigmoid(logits), call);
  double loss = 0;
  const std::vector<double> f = {1.5, 0.75, 0.75};
  for (int t = 0; t < 2; ++t) {
    double s = 0;
    for (int i = 0; i < 3; ++i) s += sig(kLogits[t * 3 + i]);
    for (int i = 0; i < 3; ++i) loss += f[i] * sig(kLogits[t * 3 + i]) / s / 2;
  }
  CHECK(values(rs.balance_loss)[0] == Approx(loss).epsilon(1e-14));
}

TEST_CASE("one expert per token with renormalised gates: the router gets no gradient from the main loss",
          "[moe][routing]") {
  // The trap of jingyaogong/minimind#858, shown: the config check (train) refuses it.
  for (bool renormalize : {true, false}) {
    MoEOptions o;
    o.dim = 4;
    o.num_experts = 3;
    o.top_n = 1;
    o.renormalize_gates = renormalize;
    o.expert_hidden_mult = 2.0;
    Generator gen(8);
    MoE moe(o, gen, DType::f64);
    Generator data(1);
    Tensor x = randn({1, 6, 4}, data, DType::f64);
    GatingCall call;
    call.gen = &data;
    MoEOutput out = moe.forward(x, call);
    backward(sum(out.outputs * out.outputs));  // the main loss alone
    const std::vector<double> g = values(grad(moe.gate->to_gates->weight));
    double largest = 0;
    for (double v : g) largest = std::max(largest, std::abs(v));
    INFO("renormalize " << renormalize);
    if (renormalize) CHECK(largest == 0.0);
    else CHECK(largest > 1e-6);
  }
}

TEST_CASE("the expert bias picks the experts but never changes the gate values, and moves toward the mean load",
          "[moe][routing]") {
  TopNGatingOptions o = two_by_three(BalanceLoss::st_moe);
  o.top_n = 1;
  o.renormalize_gates = false;
  o.expert_bias = true;
  o.expert_bias_update_rate = 0.25;
  o.capacity_factor_train = 10;
  Generator gen(1);
  TopNGating gating(o, gen, DType::f64, /*with_projection=*/false);
  REQUIRE(gating.state_dict().find("expert_bias") != nullptr);
  core::copy_(gating.expert_bias, from_vector(std::vector<double>{0, 0, 10}, {3}, DType::f64));
  Tensor logits = from_vector(kLogits, {1, 2, 3}, DType::f64);
  Tensor p = softmax(logits, -1);
  GatingCall call;
  call.route_uniforms = zeros({1, 1, 2}, DType::f64);
  Routing r = gating.route_probabilities(logits, p, call);
  CHECK(r.indices.to_vector<int64_t>() == std::vector<int64_t>{2, 2});  // the bias chose
  const std::vector<double> pv = values(p);
  CHECK(values(r.gates) == std::vector<double>{pv[2], pv[5]});  // the unbiased scores
  // Load [0, 0, 2]; mean 2/3: bias_i += 0.25 * sign(2/3 - load_i).
  gating.notify_optimizer_step();
  CHECK(values(gating.expert_bias) == std::vector<double>{0.25, 0.25, 9.75});
  // No training forward since: nothing moves.
  gating.notify_optimizer_step();
  CHECK(values(gating.expert_bias) == std::vector<double>{0.25, 0.25, 9.75});
  // Eval forwards do not count.
  gating.eval();
  gating.route_probabilities(logits, p, call);
  gating.notify_optimizer_step();
  CHECK(values(gating.expert_bias) == std::vector<double>{0.25, 0.25, 9.75});
}

TEST_CASE("routing options that do not go together are refused, naming the key", "[moe][routing]") {
  Generator gen(1);
  TopNGatingOptions g{.dim = 4, .num_gates = 3};
  g.routing = RoutingMode::expert_choice;
  g.dropless = true;
  CHECK(config_error([&] { TopNGating t(g, gen); }).rfind("dropless: does not apply to routing: expert_choice", 0) == 0);
  g.dropless = false;
  g.expert_bias = true;
  CHECK(config_error([&] { TopNGating t(g, gen); }).rfind("expert_bias: balances token choice", 0) == 0);
  MoEOptions m{.dim = 4, .num_experts = 3};
  m.score_function = ScoreFunction::sigmoid;
  m.router = MoERouterOptions{};
  CHECK(config_error([&] { MoE t(m, gen); }) == "score_function: sigmoid needs the gating's own projection (router: null)");
}

TEST_CASE("specialisation leaves out the tokens expert choice gave to no expert", "[moe][routing]") {
  // Two clusters, each sent whole to its own expert: 1, whatever the unassigned tokens.
  CHECK(train::specialisation({0, 0, 1, 1, 0, 1}, {0, 0, 1, 1, -1, -1}, 2, 2) == Approx(1.0));
  // Both clusters on one expert: 0.
  CHECK(train::specialisation({0, 1, 0, 1}, {1, 1, -1, 1}, 2, 2) == Approx(0.0));
  CHECK(train::specialisation({0, 1}, {-1, -1}, 2, 2) == 0.0);
  CHECK_THROWS_WITH(train::specialisation({0, 1}, {0, 2}, 2, 2), Catch::Contains("out of range"));
}

TEST_CASE("active parameters per token: expert choice counts capacity_factor experts, shared experts are active",
          "[moe][routing]") {
  MoEOptions top2{.dim = 8, .num_experts = 8, .expert_hidden_mult = 2.0};
  const double expert = expert_parameter_count(top2.expert());
  CHECK(idle_expert_parameter_count(top2) == 6 * expert);
  MoEOptions chosen = top2;
  chosen.routing = RoutingMode::expert_choice;
  chosen.capacity_factor_train = 2.0;  // c = 2 n / e: two experts per token on average
  CHECK(idle_expert_parameter_count(chosen) == idle_expert_parameter_count(top2));
  chosen.capacity_factor_train = 20.0;  // every expert takes every token: none idle
  CHECK(idle_expert_parameter_count(chosen) == 0.0);
  MoEOptions shared = top2;
  shared.num_shared_experts = 2;
  CHECK(idle_expert_parameter_count(shared) == idle_expert_parameter_count(top2));
  CHECK(moe_parameter_count(shared) == moe_parameter_count(top2) + 2 * expert);
}

TEST_CASE("gates and balance losses are gradchecked under each score and routing, the choices held fixed",
          "[moe][routing]") {
  struct Case {
    const char* name;
    std::function<void(TopNGatingOptions&)> set;
  };
  const std::vector<Case> cases = {
      {"softmax st_moe", [](TopNGatingOptions&) {}},
      {"sigmoid seq_aux", [](TopNGatingOptions& o) {
         o.score_function = ScoreFunction::sigmoid;
         o.balance_loss = BalanceLoss::seq_aux;
       }},
      {"expert bias, switch", [](TopNGatingOptions& o) {
         o.expert_bias = true;
         o.balance_loss = BalanceLoss::switch_;
       }},
      {"not renormalised, gshard", [](TopNGatingOptions& o) {
         o.renormalize_gates = false;
         o.balance_loss = BalanceLoss::gshard;
       }},
      {"expert choice", [](TopNGatingOptions& o) { o.routing = RoutingMode::expert_choice; }},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    TopNGatingOptions o{.dim = 1, .num_gates = 4};
    o.min_expert_capacity = 1;
    o.capacity_factor_train = 1.5;
    c.set(o);
    Generator gen(1);
    TopNGating gating(o, gen, DType::f64, /*with_projection=*/false);
    if (o.expert_bias) core::copy_(gating.expert_bias, from_vector(std::vector<double>{0.3, 0, -0.2, 0.1}, {4}, DType::f64));
    Generator data(7);
    Tensor z = requires_grad_(randn({2, 5, 4}, data, DType::f64));
    GatingCall call;
    call.route_uniforms = rand({2, 2, 5}, data, DType::f64);
    auto scores = [&](const Tensor& logits) {
      return o.score_function == ScoreFunction::sigmoid ? sigmoid(logits) : softmax(logits, -1);
    };
    GradcheckReport gates = gradcheck(
        [&](const TensorList& in) { return gating.route_probabilities(in[0], scores(in[0]), call).gates; }, {z});
    CHECK(gates.ok);
    GradcheckReport loss = gradcheck(
        [&](const TensorList& in) { return gating.route_probabilities(in[0], scores(in[0]), call).balance_loss; },
        {z});
    CHECK(loss.ok);
  }
}
