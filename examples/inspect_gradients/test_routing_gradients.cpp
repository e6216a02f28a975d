// What a researcher checks about a router's gradients, through moegrad's installed headers
// alone: where the router weights get their gradient, a hook on the gate logits, the
// z-loss gradient against its closed form, and a gradcheck of the gating's outputs while
// the discrete routing stays fixed.
#include <catch2/catch.hpp>

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/moe/top_n_gating.h"

using namespace moegrad;
using namespace moegrad::moe;

namespace {

TopNGatingOptions gating(int64_t dim, int64_t experts, bool straight_through) {
  TopNGatingOptions o;
  o.dim = dim;
  o.num_gates = experts;
  o.top_n = 2;
  o.straight_through_dispatch_tensor = straight_through;
  return o;
}

double abs_sum(const Tensor& t) {
  double s = 0;
  for (double v : t.to_vector<double>()) s += std::abs(v);
  return s;
}

}  // namespace

TEST_CASE("the router weights get a gradient through the dispatch tensor only when it is straight-through") {
  Generator gen(1);
  TopNGating st(gating(5, 4, true), gen, DType::f64), plain(gating(5, 4, false), gen, DType::f64);
  plain.load_state_dict(st.state_dict());
  const Tensor x = randn({2, 6, 5}, gen, DType::f64);
  const Tensor cotangent = randn({2, 6, 4, 4}, gen, DType::f64);
  GatingCall call;
  call.route_uniforms = rand({2, 2, 6}, gen, DType::f64);
  auto weight_grad = [&](TopNGating& g) {
    GatingOutput out = g.forward(x, call);
    Tensor loss = sum(out.dispatch_tensor * cotangent);
    if (requires_grad(loss)) backward(loss);
    return grad(g.to_gates->weight);
  };
  const Tensor with = weight_grad(st), without = weight_grad(plain);
  REQUIRE(with.defined());
  CHECK(abs_sum(with) > 1e-6);
  CHECK((!without.defined() || abs_sum(without) == 0.0));
}

TEST_CASE("a hook on the gate logits sees their gradient and may replace it") {
  Generator gen(2);
  TopNGating g(gating(5, 4, true), gen, DType::f64);
  const Tensor x = randn({2, 3, 5}, gen, DType::f64);
  GatingCall call;
  call.route_uniforms = rand({2, 2, 3}, gen, DType::f64);
  auto weight_grad_with_hook = [&](double scale, Shape* seen) {
    zero_grad(g.to_gates->weight);
    Routing r = g.route(x, call);
    register_hook(r.logits, [=](const Tensor& gl) {
      *seen = gl.shape();
      return gl * scale;
    });
    backward(r.router_z_loss + r.balance_loss);
    return grad(g.to_gates->weight).to_vector<double>();
  };
  Shape seen1, seen3;
  const auto once = weight_grad_with_hook(1.0, &seen1), thrice = weight_grad_with_hook(3.0, &seen3);
  CHECK(seen1 == Shape{2, 3, 4});
  REQUIRE(once.size() == thrice.size());
  // The logits are the projection's only output, so scaling their gradient scales the weight's.
  for (size_t i = 0; i < once.size(); ++i) CHECK(thrice[i] == Approx(3.0 * once[i]).epsilon(1e-12));
}

TEST_CASE("the router z-loss gradient equals its closed form 2 lse(l) softmax(l) / (b n)") {
  Generator gen(3);
  TopNGating g(gating(5, 4, true), gen, DType::f64);
  const Tensor x = randn({2, 3, 5}, gen, DType::f64);
  GatingCall call;
  call.gen = &gen;
  Routing r = g.route(x, call);
  retain_grad(r.logits);
  backward(r.router_z_loss);
  const Tensor l = detach(r.logits);
  const Tensor expected = 2.0 * logsumexp(l, {-1}, true) * softmax(l, -1) / 6.0;
  const auto got = grad(r.logits).to_vector<double>(), want = expected.to_vector<double>();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-12));
}

TEST_CASE("gradcheck of the combine tensor and both losses, the routing held fixed") {
  Generator gen(4);
  TopNGatingOptions o = gating(4, 5, true);
  o.threshold_train = 0.1;
  TopNGating g(o, gen, DType::f64);
  const Tensor x = requires_grad_(randn({2, 4, 4}, gen, DType::f64));
  GatingCall call;
  call.route_uniforms = rand({2, 2, 4}, gen, DType::f64);
  const Routing fixed = g.route(x, call);
  GradcheckReport report = gradcheck_multi(
      [&](const TensorList&) {
        GatingOutput out = g.forward(x, call);
        // Finite differences mean something only while no discrete decision flips.
        if (out.routing.indices.to_vector<int64_t>() != fixed.indices.to_vector<int64_t>() ||
            out.routing.kept.to_vector<bool>() != fixed.kept.to_vector<bool>())
          throw Error("the routing changed under perturbation");
        return TensorList{out.combine_tensor, out.balance_loss, out.router_z_loss};
      },
      {x, g.to_gates->weight});
  INFO(report);
  CHECK(report.ok);
}
