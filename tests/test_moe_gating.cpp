// TopNGating and MoERouter behaviour, worked out from the spec rather than the fixtures.
#include <catch2/catch.hpp>

#include "config_errors.h"

#include <cmath>
#include <set>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/moe/coor_descent.h"
#include "moegrad/moe/moe.h"

using namespace moegrad;
using namespace moegrad::moe;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
std::vector<int64_t> ints(const Tensor& t) { return t.to_vector<int64_t>(); }

TopNGatingOptions small_options(int64_t dim = 6, int64_t e = 4, int64_t k = 2) {
  TopNGatingOptions o;
  o.dim = dim;
  o.num_gates = e;
  o.top_n = k;
  return o;
}

using test::config_error;
}  // namespace

TEST_CASE("bad gating arguments fail at construction, naming the argument", "[moe]") {
  Generator gen(0);
  auto make = [&](TopNGatingOptions o) { return [o, &gen] { TopNGating g(o, gen); }; };
  TopNGatingOptions o = small_options();
  o.top_n = 5;
  CHECK(config_error(make(o)) == "top_n: must be in [1, num_gates=4], got 5");
  o = small_options();
  o.top_n = 0;
  CHECK_THAT(config_error(make(o)), Catch::StartsWith("top_n:"));
  o = small_options(6, 4, 3);
  o.threshold_train = std::vector<double>{0.2};
  CHECK(config_error(make(o)) == "threshold_train: a list must have top_n - 1 = 2 entries, got 1");
  o = small_options();
  o.capacity_factor_eval = 0.0;
  CHECK(config_error(make(o)) == "capacity_factor_eval: must be a finite number > 0, got 0");
  o = small_options();
  o.min_expert_capacity = 0;
  CHECK_THAT(config_error(make(o)), Catch::StartsWith("min_expert_capacity:"));

  MoERouterOptions r{.dim = 4, .num_experts = 0};
  CHECK(config_error([&] { MoERouter m(r, gen); }) == "num_experts: must be an integer >= 1, got 0");
  r = {.dim = 4, .num_experts = 2, .hidden_layers = std::vector<int64_t>{8, 0}};
  CHECK(config_error([&] { MoERouter m(r, gen); }) == "hidden_layers[1]: must be >= 1, got 0");

  MoEOptions m{.dim = 8, .num_experts = 4, .top_n = 6};
  CHECK(config_error([&] { MoE moe(m, gen); }) == "top_n: must be in [1, num_experts=4], got 6");
}

TEST_CASE("capacity follows the reference's formula, train and eval apart", "[moe]") {
  TopNGatingOptions o = small_options(6, 7, 2);
  o.capacity_factor_train = 1.4;
  o.capacity_factor_eval = 3.0;
  CHECK(o.capacity(45, true) == 8);   // 45 * 1.4 is 62.99999999999999 in double: int(8.99..) = 8
  CHECK(o.capacity(45, false) == 19);  // int(135 / 7) = 19
  CHECK(o.capacity(2, true) == 4);    // never below min_expert_capacity, even above n
  o.min_expert_capacity = 1;
  CHECK(o.capacity(5, true) == 1);
  CHECK(o.capacity(100, true) == 20);
}

TEST_CASE("no expert receives more than its capacity; choice 0 is kept unless full", "[moe]") {
  Generator gen(1);
  for (int trial = 0; trial < 5; ++trial) {
    TopNGatingOptions o = small_options(5, 3, 2 + trial % 2);
    o.capacity_factor_train = 0.6;
    o.min_expert_capacity = 2;
    o.threshold_train = 0.05;
    TopNGating g(o, gen, DType::f64);
    Tensor x = randn({3, 20, 5}, gen, DType::f64);
    GatingCall call;
    call.gen = &gen;
    Routing r = g.route(x, call);
    const int64_t k = o.top_n, b = 3, n = 20, e = 3, c = r.capacity;
    CHECK(c == std::max<int64_t>(std::min<int64_t>(20, int64_t(20 * 0.6 / 3)), 2));
    auto idx = ints(r.indices), slots = ints(r.slots);
    auto kept = r.kept.to_vector<bool>(), routed = r.routed.to_vector<bool>();
    std::vector<int64_t> load(b * e, 0);
    std::set<std::tuple<int64_t, int64_t, int64_t>> used;  // (b, e, slot) of kept choices
    for (int64_t j = 0; j < k; ++j)
      for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t t = 0; t < n; ++t) {
          const int64_t at = (j * b + bi) * n + t;
          if (j == 0) {
            CHECK(routed[at]);                         // the first choice always routes
            CHECK(kept[at] == (slots[at] < c));        // and is only lost to capacity
          }
          if (!kept[at]) continue;
          CHECK(routed[at]);
          CHECK(slots[at] < c);
          ++load[bi * e + idx[at]];
          CHECK(used.insert({bi, idx[at], slots[at]}).second);  // one token per slot
        }
    for (int64_t l : load) CHECK(l <= c);
    // tokens_per_expert sums the same kept choices.
    auto per_expert = ints(r.tokens_per_expert());
    int64_t total = 0;
    for (int64_t v : per_expert) total += v;
    CHECK(total == std::count(kept.begin(), kept.end(), true));
    const double routed_n = std::count(routed.begin(), routed.end(), true);
    CHECK(r.dropped_fraction() == Approx((routed_n - total) / routed_n));
  }
}

TEST_CASE("capacity drops tokens in token order, later choices after earlier ones", "[moe]") {
  // Four tokens whose gates all favour expert 0 (then expert 1), capacity 2.
  Generator gen(0);
  TopNGatingOptions o = small_options(2, 2, 2);
  o.min_expert_capacity = 2;
  o.capacity_factor_train = 0.01;
  o.threshold_train = 0.0;  // every second choice routes
  TopNGating g(o, gen, DType::f64);
  core::copy_(g.to_gates->weight, tensor({3.0, 0.0, 0.0, 0.0}, {2, 2}));
  Tensor x = full({1, 4, 2}, 1.0, DType::f64);
  GatingCall call;
  call.route_uniforms = full({2, 1, 4}, 0.5, DType::f64);
  Routing r = g.route(x, call);
  CHECK(r.capacity == 2);
  CHECK(ints(r.indices) == std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1});
  CHECK(r.kept.to_vector<bool>() == std::vector<bool>{true, true, false, false, true, true, false, false});
  CHECK(ints(r.slots) == std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3});
  auto gates = values(r.gates);
  CHECK(gates[2] == 0.0);  // dropped choices carry no weight
  CHECK(gates[0] > 0.9);
}

TEST_CASE("train and eval pick their own thresholds", "[moe]") {
  Generator gen(2);
  TopNGatingOptions o = small_options(4, 4, 3);
  o.threshold_train = 1e9;                          // nothing after choice 0 routes
  o.threshold_eval = std::vector<double>{0.0, 0.0};  // everything routes
  TopNGating g(o, gen, DType::f64);
  CHECK(values(g.threshold_train) == std::vector<double>{1e-9, 1e9, 1e9});
  CHECK(values(g.threshold_eval) == std::vector<double>{1e-9, 0.0, 0.0});
  Tensor x = randn({2, 5, 4}, gen, DType::f64);
  GatingCall call;
  call.gen = &gen;
  auto count = [](const Tensor& b) { return core::sum(b).item<int64_t>(); };
  Routing train = g.route(x, call);
  CHECK(count(train.routed) == 10);  // choice 0 only
  CHECK(train.balance_loss.dim() == 0);
  g.eval();
  Routing eval = g.route(x, call);
  CHECK(count(eval.routed) == 30);
  CHECK(eval.capacity == o.capacity(5, false));
  CHECK(eval.balance_loss.shape() == Shape{1});  // the zero buffer of the reference
  CHECK(eval.balance_loss.item<double>() == 0.0);
  CHECK_FALSE(requires_grad(eval.router_z_loss));
}

TEST_CASE("the straight-through flag changes gradients, not values", "[moe]") {
  Generator gen(3);
  TopNGatingOptions with = small_options(5, 4, 2), without = with;
  without.straight_through_dispatch_tensor = false;
  TopNGating a(with, gen, DType::f64), b(without, gen, DType::f64);
  b.load_state_dict(a.state_dict());
  Tensor x = randn({2, 6, 5}, gen, DType::f64);
  Tensor u = rand({2, 2, 6}, gen, DType::f64);
  Tensor cot = randn({2, 6, 4, 4}, gen, DType::f64);
  auto run = [&](TopNGating& g) {
    Tensor xi = requires_grad_(core::clone(x));
    GatingCall call;
    call.route_uniforms = u;
    GatingOutput out = g.forward(xi, call);
    Tensor loss = sum(out.dispatch_tensor * cot);
    if (!requires_grad(loss)) return std::pair{values(out.dispatch_tensor), values(zeros_like(x))};
    backward(loss);
    return std::pair{values(out.dispatch_tensor), values(grad(xi))};
  };
  auto [va, ga] = run(a);
  auto [vb, gb] = run(b);
  REQUIRE(va.size() == vb.size());
  for (size_t i = 0; i < va.size(); ++i) CHECK(va[i] == Approx(vb[i]).margin(1e-15));
  double diff = 0, norm_b = 0;
  for (size_t i = 0; i < ga.size(); ++i) {
    diff += std::abs(ga[i] - gb[i]);
    norm_b += std::abs(gb[i]);
  }
  CHECK(norm_b == 0.0);  // without straight-through the dispatch tensor is a constant
  CHECK(diff > 1e-3);
}

TEST_CASE("router z-loss gradient equals its closed form", "[moe]") {
  Generator gen(4);
  TopNGating g(small_options(5, 4, 2), gen, DType::f64);
  Tensor x = randn({2, 3, 5}, gen, DType::f64);
  GatingCall call;
  call.gen = &gen;
  Routing r = g.route(x, call);
  retain_grad(r.logits);
  backward(r.router_z_loss);
  // z = mean_{b,n} lse(l)^2  =>  dz/dl = 2 lse(l) softmax(l) / (b n)
  Tensor l = detach(r.logits);
  Tensor expected = 2.0 * core::logsumexp(l, {-1}, true) * core::softmax(l, -1) / 6.0;
  auto got = values(grad(r.logits)), want = values(expected);
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-12));
}

TEST_CASE("gating combine tensor: gradcheck with the routing held fixed", "[moe][gradcheck]") {
  Generator gen(5);
  for (bool diff_topk : {false, true}) {
    TopNGatingOptions o = small_options(4, 5, 2);
    o.differentiable_topk = diff_topk;
    o.threshold_train = 0.1;
    TopNGating g(o, gen, DType::f64);
    Tensor x = requires_grad_(randn({2, 4, 4}, gen, DType::f64));
    GatingCall call;
    call.route_uniforms = rand({2, 2, 4}, gen, DType::f64);
    Routing fixed = g.route(x, call);
    auto same_routing = [&](const Routing& r) {
      return ints(r.indices) == ints(fixed.indices) && ints(r.slots) == ints(fixed.slots) &&
             r.kept.to_vector<bool>() == fixed.kept.to_vector<bool>();
    };
    TensorList inputs{x, g.to_gates->weight};
    GradcheckReport rep = gradcheck_multi([&](const TensorList&) {
      GatingOutput out = g.forward(x, call);
      // Finite differences are only meaningful while no discrete decision flips.
      MOEGRAD_CHECK(same_routing(out.routing), "routing changed under perturbation");
      return TensorList{out.combine_tensor, out.balance_loss, out.router_z_loss};
    }, inputs);
    INFO("differentiable_topk=" << diff_topk << ": " << rep);
    CHECK(rep.ok);
  }
}

TEST_CASE("coordinate descent: a soft k-hot mask, gradcheck through every iteration", "[moe][gradcheck]") {
  Generator gen(6);
  Tensor s = softmax(randn({2, 6}, gen, DType::f64) * 3.0, -1);
  Tensor m = coor_descent(s, 2.0);
  for (double row : values(sum(m, {-1}))) CHECK(row == Approx(2.0).epsilon(0.05));  // ~k in total
  for (double v : values(m)) {
    CHECK(v >= 0.0);
    CHECK(v <= 1.0 + 1e-9);
  }
  Tensor x = requires_grad_(softmax(randn({2, 5}, gen, DType::f64), -1));
  for (double k : {1.0, 2.25}) {
    GradcheckReport r = gradcheck([k](const TensorList& in) {
      return coor_descent(in[0], k, CoorDescentOptions{.n_iters = 20, .eps = 0.1});
    }, {x});
    INFO("k=" << k << ": " << r);
    CHECK(r.ok);
  }
  // The soft mask at the chosen indices is an honest function of x: gradcheck it.
  CoorDescentTopkOptions top2;
  top2.k = 2;
  GradcheckReport r = gradcheck([&](const TensorList& in) {
    return coor_descent_topk(in[0], top2).coor_descent_values;
  }, {x});
  INFO(r);
  CHECK(r.ok);
  // `values` equals x at the indices but is straight-through: by the product rule its
  // gradient is c (the gate's value is 1) plus x c dmask/dx, which finite differences of the
  // piecewise-constant selection cannot see.
  CoorDescentTopkResult t = coor_descent_topk(x, top2);
  Tensor c = randn(t.values.shape(), gen, DType::f64);
  backward(sum(t.values * c));
  std::vector<double> st = values(grad(x));
  zero_grad(x);
  Tensor surrogate = gather(x, -1, t.indices) + gather(detach(x) * coor_descent(x, 2.25), -1, t.indices);
  backward(sum(surrogate * c));
  std::vector<double> expected = values(grad(x));
  for (size_t i = 0; i < st.size(); ++i) CHECK(st[i] == Approx(expected[i]).margin(1e-12));
  zero_grad(x);
  CHECK_THROWS_WITH(coor_descent(s, 2.0, CoorDescentOptions{.n_iters = 0}), Catch::Contains("n_iters"));
}

TEST_CASE("MoERouter: probabilities over the last axis, gumbel is hard with soft gradients", "[moe][gradcheck]") {
  Generator gen(7);
  MoERouter soft({.dim = 4, .num_experts = 3, .hidden_layers = std::vector<int64_t>{5}}, gen, DType::f64);
  CHECK(soft.named_parameters().size() == 4);
  CHECK(soft.named_parameters()[2].first == "layers.2.weight");
  Tensor x = requires_grad_(randn({2, 3, 4}, gen, DType::f64));
  for (double row : values(sum(soft.forward(x), {-1}))) CHECK(row == Approx(1.0));
  TensorList inputs{x};
  for (const Tensor& p : soft.parameters()) inputs.push_back(p);
  GradcheckReport r = gradcheck([&](const TensorList& in) { return soft.forward(in[0]); }, inputs);
  INFO(r);
  CHECK(r.ok);

  MoERouter gumbel({.dim = 4, .num_experts = 3, .hidden_layers = int64_t{2}, .mechanism = RouterMechanism::gumbel},
                   gen, DType::f64);
  CHECK(gumbel.named_parameters().size() == 6);  // two hidden layers of width dim, then the output
  Tensor noise = gumbel_noise({2, 3, 3}, gen, DType::f64);
  Tensor y = gumbel.forward(x, noise);
  for (double v : values(y)) CHECK((std::abs(v) < 1e-12 || std::abs(v - 1.0) < 1e-12));
  // Hard values, soft gradients: the gradient is exactly that of softmax(logits + noise).
  Tensor c = randn({2, 3, 3}, gen, DType::f64);
  backward(sum(y * c));
  std::vector<double> hard_grad = values(grad(x));
  zero_grad(x);
  backward(sum(softmax(gumbel.logits(x) + noise, -1) * c));
  std::vector<double> soft_grad = values(grad(x));
  double norm = 0;
  for (size_t i = 0; i < hard_grad.size(); ++i) {
    CHECK(hard_grad[i] == Approx(soft_grad[i]).margin(1e-14));
    norm += std::abs(hard_grad[i]);
  }
  CHECK(norm > 0);
  zero_grad(x);
  CHECK_THROWS_WITH(gumbel.forward(x), Catch::Contains("needs gumbel_noise or a generator"));
  gumbel.set_generator(&gen);
  CHECK(gumbel.forward(x).shape() == Shape{2, 3, 3});
}

TEST_CASE("forward with the default call draws from the module's own generator", "[moe]") {
  // Before: "TopNGating: route_uniforms or a generator is needed" for moe.forward(x).
  auto run = [] {
    Generator gen(5);
    MoEOptions o;
    o.dim = 6;
    o.num_experts = 4;
    MoE m(o, gen);
    Tensor x = randn({2, 5, 6}, gen);
    return std::make_pair(values(m.forward(x).outputs), values(m.forward(x, {.noise_gates = true}).outputs));
  };
  const auto [plain, noisy] = run();
  CHECK(plain.size() == 2 * 5 * 6);
  CHECK(run().first == plain);   // two fresh modules route alike
  CHECK(run().second == noisy);
  CHECK(noisy != plain);         // the noise was drawn
  Generator gen(1);
  TopNGating g(small_options(), gen);
  CHECK_NOTHROW(g.forward(randn({1, 3, 6}, gen)));
}
