// Float64 gradchecks of the differentiable reductions and along-axis ops
// (autograd/ops/reduction.h), on a contiguous (2, 3, 4) input and on non-contiguous
// views of the same shape, over several axis sets (negative axes, keepdim both ways,
// all axes). Normal draws have no ties, so max-like ops have one winner per slice.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

using namespace moegrad;

namespace {

struct Case {
  std::string layout;
  Tensor x;
};

// (2, 3, 4) leaves: contiguous, a permuted view of a (4, 2, 3) leaf, and every other
// entry on the middle axis of a (2, 6, 4) leaf.
std::vector<Case> layouts(Generator& gen) {
  std::vector<Case> out{
      {"contiguous", randn({2, 3, 4}, gen, DType::f64)},
      {"permuted view", core::permute(randn({4, 2, 3}, gen, DType::f64), {1, 2, 0})},
      {"step-2 slice", core::slice(randn({2, 6, 4}, gen, DType::f64), 1, 0, 6, 2)},
  };
  for (Case& c : out) {
    REQUIRE(c.x.shape() == Shape{2, 3, 4});
    REQUIRE(c.x.is_contiguous() == (c.layout == "contiguous"));
    requires_grad_(c.x);
  }
  return out;
}

std::string axes_string(const Axes& axes) {
  std::string s = "{";
  for (size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + std::to_string(axes[i]);
  return s + "}";
}

// Axis sets of a 3-d input; {} means every axis.
const std::vector<Axes> axis_sets{{}, {0}, {1}, {-1}, {0, 2}, {-1, -3}, {2, 1}, {0, 1, 2}};

using AxesOp = std::function<Tensor(const Tensor&, const Axes&, bool)>;

void check_over_axes(const AxesOp& op, Generator& gen) {
  for (const Case& c : layouts(gen)) {
    for (const Axes& axes : axis_sets) {
      for (bool keepdim : {false, true}) {
        GradcheckReport r = gradcheck(
            [&](const TensorList& in) { return op(in[0], axes, keepdim); }, {c.x});
        INFO(c.layout << ", axes " << axes_string(axes) << ", keepdim " << keepdim << ": " << r);
        CHECK(r.ok);
      }
    }
  }
}

using AxisOp = std::function<Tensor(const Tensor&, int64_t)>;

void check_along_axis(const AxisOp& op, Generator& gen) {
  for (const Case& c : layouts(gen)) {
    for (int64_t axis : {0, 1, 2, -1, -3}) {
      GradcheckReport r = gradcheck([&](const TensorList& in) { return op(in[0], axis); }, {c.x});
      INFO(c.layout << ", axis " << axis << ": " << r);
      CHECK(r.ok);
    }
  }
}

}  // namespace

TEST_CASE("sum: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(201);
  check_over_axes([](const Tensor& x, const Axes& a, bool k) { return sum(x, a, k); }, gen);
  // The default arguments: every axis, no keepdim, a 0-d result.
  Tensor x = requires_grad_(randn({3, 4}, gen, DType::f64));
  GradcheckReport r = gradcheck([](const TensorList& in) { return sum(in[0]); }, {x});
  INFO(r);
  CHECK(r.ok);
}

TEST_CASE("mean: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(202);
  check_over_axes([](const Tensor& x, const Axes& a, bool k) { return mean(x, a, k); }, gen);
}

TEST_CASE("amax: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(203);
  check_over_axes([](const Tensor& x, const Axes& a, bool k) { return amax(x, a, k); }, gen);
}

TEST_CASE("amin: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(204);
  check_over_axes([](const Tensor& x, const Axes& a, bool k) { return amin(x, a, k); }, gen);
}

TEST_CASE("max(x, axis): analytic gradient of the values matches finite differences",
          "[autograd][gradcheck]") {
  Generator gen(205);
  for (bool keepdim : {false, true}) {
    INFO("keepdim " << keepdim);
    check_along_axis([keepdim](const Tensor& x, int64_t a) { return max(x, a, keepdim).first; },
                     gen);
  }
  // Both outputs at once: the int64 indices stay out of the Jacobian.
  for (const Case& c : layouts(gen)) {
    GradcheckReport r = gradcheck_multi(
        [](const TensorList& in) {
          auto [values, indices] = max(in[0], -2);
          return TensorList{values, indices};
        },
        {c.x});
    INFO(c.layout << ", gradcheck_multi: " << r);
    CHECK(r.ok);
    CHECK(r.checked == 24 * 8);  // 24 input elements by 8 float outputs
  }
}

TEST_CASE("min(x, axis): analytic gradient of the values matches finite differences",
          "[autograd][gradcheck]") {
  Generator gen(206);
  for (bool keepdim : {false, true}) {
    INFO("keepdim " << keepdim);
    check_along_axis([keepdim](const Tensor& x, int64_t a) { return min(x, a, keepdim).first; },
                     gen);
  }
  for (const Case& c : layouts(gen)) {
    GradcheckReport r = gradcheck_multi(
        [](const TensorList& in) {
          auto [values, indices] = min(in[0], 0, /*keepdim=*/true);
          return TensorList{indices, values};
        },
        {c.x});
    INFO(c.layout << ", gradcheck_multi: " << r);
    CHECK(r.ok);
  }
}

TEST_CASE("logsumexp: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(207);
  check_over_axes(
      [](const Tensor& x, const Axes& a, bool k) { return logsumexp(x, a, k); }, gen);
  // Large inputs: the stable forward and the exp(x - lse) backward stay finite.
  Tensor big = requires_grad_(randn({2, 3}, gen, DType::f64) * 5.0 + 700.0);
  GradcheckReport r =
      gradcheck([](const TensorList& in) { return logsumexp(in[0], {-1}); }, {big});
  INFO("inputs near 700: " << r);
  CHECK(r.ok);
}

TEST_CASE("softmax: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(208);
  check_along_axis([](const Tensor& x, int64_t a) { return softmax(x, a); }, gen);
}

TEST_CASE("log_softmax: analytic gradient matches finite differences",
          "[autograd][gradcheck]") {
  Generator gen(209);
  check_along_axis([](const Tensor& x, int64_t a) { return log_softmax(x, a); }, gen);
}

TEST_CASE("cumsum: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(210);
  for (bool exclusive : {false, true}) {
    INFO("exclusive " << exclusive);
    check_along_axis(
        [exclusive](const Tensor& x, int64_t a) { return cumsum(x, a, exclusive); }, gen);
  }
}

TEST_CASE("topk: analytic gradient of the values matches finite differences",
          "[autograd][gradcheck]") {
  Generator gen(211);
  for (const Case& c : layouts(gen)) {
    for (auto [k, axis] : std::vector<std::pair<int64_t, int64_t>>{
             {1, -1}, {2, -1}, {3, 2}, {2, 1}, {1, 0}, {2, -2}}) {
      GradcheckReport r =
          gradcheck([&](const TensorList& in) { return topk(in[0], k, axis).first; }, {c.x});
      INFO(c.layout << ", k " << k << ", axis " << axis << ": " << r);
      CHECK(r.ok);
    }
  }
}

TEST_CASE("norm: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  // Normal draws: no reduced slice is near the zero vector, where norm has a kink.
  Generator gen(212);
  check_over_axes([](const Tensor& x, const Axes& a, bool k) { return norm(x, a, k); }, gen);
}

TEST_CASE("amax and amin: a two-way tie shares the gradient in halves",
          "[autograd][gradcheck]") {
  // At an exact two-way tie the central difference is also 1/2 (raising either tied
  // entry raises the max by eps, lowering it leaves the max alone), so gradcheck checks
  // the even split there. Each row has its max twice and its min twice.
  Tensor x = requires_grad_(tensor({0.5, 2.0, -1.0, 2.0, -1.0,   //
                                    3.0, -2.0, 1.0, -2.0, 3.0,   //
                                    0.0, 0.0, 1.5, -0.5, 1.5},   //
                                   {3, 5}));
  for (bool keepdim : {false, true}) {
    GradcheckReport rmax =
        gradcheck([&](const TensorList& in) { return amax(in[0], {-1}, keepdim); }, {x});
    INFO("amax, keepdim " << keepdim << ": " << rmax);
    CHECK(rmax.ok);
    GradcheckReport rmin =
        gradcheck([&](const TensorList& in) { return amin(in[0], {1}, keepdim); }, {x});
    INFO("amin, keepdim " << keepdim << ": " << rmin);
    CHECK(rmin.ok);
  }
}

TEST_CASE("amax: a three-way tie gives each a third of the gradient", "[autograd]") {
  // Not gradcheckable (the central difference is 1/2 at any tie); worked out by hand.
  Tensor x = requires_grad_(tensor({1.0, 3.0, 3.0, 0.0, 3.0}));
  backward(amax(x));
  CHECK_THAT(grad(x).to_vector<double>(),
             Catch::Matchers::Approx(std::vector<double>{0, 1.0 / 3, 1.0 / 3, 0, 1.0 / 3}));
}
