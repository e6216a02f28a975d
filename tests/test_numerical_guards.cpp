// Anomaly mode names the op that first produced a NaN or Inf, and the MoE losses stay
// finite and correct for logits of magnitude 1e4.
#include <catch2/catch.hpp>

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/moe/moe.h"

using namespace moegrad;

namespace {
std::string anomaly_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const AnomalyError& e) {
    return e.what();
  }
  return "";
}

// y = x, but its backward returns NaN: a broken custom op for anomaly mode to find.
struct NanBackwardOp {
  Tensor forward(OpContext&, const Tensor& x) { return core::clone(x); }
  TensorList backward(const OpContext&, const Tensor& g) { return {g * std::nan("")}; }
};
}  // namespace

TEST_CASE("anomaly mode names the op whose forward produced a NaN or Inf", "[autograd][anomaly]") {
  Tensor x = requires_grad_(tensor({1.0, 0.0, 2.0}));
  CHECK_NOTHROW(log(x));  // off by default: -Inf flows on silently
  DetectAnomalyGuard guard;
  CHECK(anomaly_of([&] { log(x); }) ==
        "anomaly: the forward of LogOp produced Inf in its output 0 of shape [3] from finite inputs");
  CHECK_THAT(anomaly_of([&] { log(tensor({-1.0})); }), Catch::Contains("LogOp produced NaN"));
  // An op fed a NaN is reported as passing it on, not as its source.
  Tensor bad = tensor({std::nan(""), 1.0});
  CHECK_THAT(anomaly_of([&] { exp(bad); }), Catch::Contains("ExpOp") && Catch::Contains("inputs already held NaN"));
  CHECK_NOTHROW(exp(x));
}

TEST_CASE("anomaly mode names the op whose backward produced a NaN or Inf", "[autograd][anomaly]") {
  Tensor x = requires_grad_(tensor({0.0, 4.0}));
  Tensor y = sum(sqrt(x));  // fine forward; d sqrt / dx at 0 is Inf
  {
    DetectAnomalyGuard guard;
    CHECK(anomaly_of([&] { backward(y); }) ==
          "anomaly: the backward of SqrtOp produced Inf in its gradient of input 0 of shape [2] from finite inputs");
    Tensor z = requires_grad_(tensor({1.0, 2.0}));
    Tensor w = sum(apply<NanBackwardOp>(z) * 3.0);
    CHECK_THAT(anomaly_of([&] { backward(w); }), Catch::Contains("the backward of NanBackwardOp produced NaN"));
  }
  CHECK_NOTHROW(backward(sum(sqrt(x))));  // outside the guard nothing is checked
  CHECK(std::isinf(grad(x).to_vector<double>()[0]));
}

TEST_CASE("logsumexp, softmax and log_softmax stay exact for logits of magnitude 1e4", "[autograd][anomaly]") {
  DetectAnomalyGuard guard;  // any NaN or Inf on the way fails the test
  Tensor l = requires_grad_(tensor({1e4, 1e4 - 1.0, -1e4, 0.0}, {1, 4}));
  Tensor lse = logsumexp(l, {-1});
  CHECK(lse.item<double>() == Approx(1e4 + std::log1p(std::exp(-1.0))).epsilon(1e-15));
  Tensor p = softmax(l, -1);
  const double e = std::exp(-1.0);
  auto pv = p.to_vector<double>();
  CHECK(pv[0] == Approx(1.0 / (1.0 + e)).epsilon(1e-14));
  CHECK(pv[1] == Approx(e / (1.0 + e)).epsilon(1e-14));
  CHECK(pv[2] == 0.0);
  auto lp = log_softmax(l, -1).to_vector<double>();
  CHECK(lp[2] == Approx(-2e4 - std::log1p(e)).epsilon(1e-14));
  backward(sum(lse * lse) + sum(p * tensor({1.0, 2.0, 3.0, 4.0}, {1, 4})));
  for (double g : grad(l).to_vector<double>()) CHECK(std::isfinite(g));
  Tensor l32 = to(tensor({1e4, -1e4, 5e3}, {1, 3}), DType::f32);
  CHECK(logsumexp(l32, {-1}).item<double>() == Approx(1e4));
  CHECK(softmax(l32, -1).to_vector<float>() == std::vector<float>{1.0f, 0.0f, 0.0f});
}

TEST_CASE("balance and z losses stay finite and correct for logits of magnitude 1e4", "[moe][anomaly]") {
  Generator gen(9);
  moe::TopNGatingOptions o;
  o.dim = 2;
  o.num_gates = 3;
  moe::TopNGating g(o, gen, DType::f64);
  // logits = x W^T: tokens (1, 0) and (0, 1) get logits of about +-1e4.
  core::copy_(g.to_gates->weight, tensor({1e4, 0.0, -1e4, 1e4, 0.0, -1e4}, {3, 2}));
  Tensor x = requires_grad_(tensor({1.0, 0.0, 0.0, 1.0}, {1, 2, 2}));
  moe::GatingCall call;
  call.route_uniforms = full({2, 1, 2}, 0.5, DType::f64);
  DetectAnomalyGuard guard;
  moe::GatingOutput out = g.forward(x, call);
  // Token 0: logits (1e4, -1e4, 0), token 1: (0, 1e4, -1e4); lse = 1e4 for both (up to e^-1e4).
  CHECK(out.router_z_loss.item<double>() == Approx(1e8).epsilon(1e-15));
  // raw gates are one-hot up to e^-1e4: expert 0 has mean gate 1/2 and density 1/2, and so does
  // expert 1, so balance = mean_e(p_e d_e) * e^2 = (1/4 + 1/4 + 0) / 3 * 9.
  CHECK(out.balance_loss.item<double>() == Approx(1.5).epsilon(1e-12));
  backward(out.router_z_loss + out.balance_loss + sum(out.combine_tensor));
  for (double v : grad(x).to_vector<double>()) CHECK(std::isfinite(v));
  for (double v : grad(g.to_gates->weight).to_vector<double>()) CHECK(std::isfinite(v));
}
