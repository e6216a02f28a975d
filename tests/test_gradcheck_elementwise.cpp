// Float64 gradchecks of the differentiable elementwise ops (autograd/ops/elementwise.h):
// every op on a contiguous input and on non-contiguous views (a transpose and a step-2
// slice of a larger leaf); binary ops also on broadcast shapes and 0-d operands.
// Inputs keep away from kinks (abs, relu, clamp bounds, ties of maximum) by more than
// the finite-difference step, so that the numeric Jacobian is the derivative there.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

using namespace moegrad;

namespace {

using Maker = std::function<Tensor(const Shape&)>;
using Unary = std::function<Tensor(const Tensor&)>;
using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;

struct Case {
  std::string layout;
  Tensor x;
};

// The same kind of values laid out up to three ways, each a leaf requiring grad:
// contiguous; a transposed view (the last two dims of size > 1 swapped); and every other
// entry along the first dim of size > 1 of a leaf twice as long there. The views are
// left out where the shape has too few dims of size > 1 for them to be non-contiguous.
std::vector<Case> layouts(const Shape& shape, const Maker& make) {
  std::vector<int64_t> big;  // dims of size > 1
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] > 1) big.push_back(static_cast<int64_t>(d));
  std::vector<Case> out{{"contiguous", make(shape)}};
  if (big.size() >= 2) {
    const int64_t d0 = big[big.size() - 2], d1 = big.back();
    Shape swapped = shape;
    std::swap(swapped[d0], swapped[d1]);
    out.push_back({"transposed view", core::transpose(make(swapped), d0, d1)});
  }
  if (!big.empty()) {
    Shape doubled = shape;
    doubled[big[0]] *= 2;
    out.push_back({"step-2 slice", core::slice(make(doubled), big[0], 0, doubled[big[0]], 2)});
  }
  for (Case& c : out) {
    REQUIRE(c.x.shape() == shape);
    REQUIRE(c.x.is_contiguous() == (c.layout == "contiguous"));
    requires_grad_(c.x);
  }
  return out;
}

Maker normal(Generator& gen) {
  return [&gen](const Shape& s) { return randn(s, gen, DType::f64); };
}

Maker in_range(double low, double high, Generator& gen) {
  return [&gen, low, high](const Shape& s) { return uniform(s, low, high, gen, DType::f64); };
}

// Normal draws moved at least `margin` away from every point in `avoid`.
Maker avoiding(std::vector<double> avoid, Generator& gen, double margin = 0.1) {
  return [&gen, avoid, margin](const Shape& s) {
    std::vector<double> v = randn(s, gen, DType::f64).to_vector<double>();
    for (double& x : v)
      for (double p : avoid)
        if (std::abs(x - p) < margin) x = x < p ? p - margin : p + margin;
    return from_vector(v, s, DType::f64);
  };
}

void check_unary(const Unary& op, const Maker& make, const Shape& shape = {3, 4}) {
  for (const Case& c : layouts(shape, make)) {
    GradcheckReport r = gradcheck([&](const TensorList& in) { return op(in[0]); }, {c.x});
    INFO(c.layout << ": " << r);
    CHECK(r.ok);
  }
}

GradcheckReport check_pair(const Binary& op, const Tensor& a, const Tensor& b) {
  return gradcheck([&](const TensorList& in) { return op(in[0], in[1]); }, {a, b});
}

// Same-shape operands with their layouts rotated (contiguous with transposed, transposed
// with sliced, sliced with contiguous), then broadcasts: (3, 1, 4) with (5, 1) both ways
// round, and a 0-d operand on either side of a transposed view, and 0-d with 0-d.
void check_binary(const Binary& op, const Maker& make_a, const Maker& make_b) {
  std::vector<Case> as = layouts({3, 4}, make_a);
  std::vector<Case> bs = layouts({3, 4}, make_b);
  for (size_t i = 0; i < as.size(); ++i) {
    const Case& a = as[i];
    const Case& b = bs[(i + 1) % bs.size()];
    GradcheckReport r = check_pair(op, a.x, b.x);
    INFO("a " << a.layout << ", b " << b.layout << ": " << r);
    CHECK(r.ok);
  }
  Tensor a314 = requires_grad_(make_a({3, 1, 4}));
  Tensor b51 = requires_grad_(make_b({5, 1}));
  Tensor a51 = requires_grad_(make_a({5, 1}));
  Tensor b314 = requires_grad_(make_b({3, 1, 4}));
  Tensor a0 = requires_grad_(make_a({}));
  Tensor b0 = requires_grad_(make_b({}));
  Tensor a34t = requires_grad_(core::transpose(make_a({4, 3}), 0, 1));
  Tensor b34t = requires_grad_(core::transpose(make_b({4, 3}), 0, 1));
  REQUIRE(a0.dim() == 0);
  const std::vector<std::pair<std::string, std::pair<Tensor, Tensor>>> broadcasts{
      {"(3, 1, 4) with (5, 1)", {a314, b51}},
      {"(5, 1) with (3, 1, 4)", {a51, b314}},
      {"(3, 4) transposed view with 0-d", {a34t, b0}},
      {"0-d with (3, 4) transposed view", {a0, b34t}},
      {"0-d with 0-d", {a0, b0}},
  };
  for (const auto& [name, ab] : broadcasts) {
    GradcheckReport r = check_pair(op, ab.first, ab.second);
    INFO(name << ": " << r);
    CHECK(r.ok);
  }
}

const double inf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("neg: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(101);
  check_unary([](const Tensor& x) { return neg(x); }, normal(gen));
  check_unary([](const Tensor& x) { return -x; }, normal(gen));
}

TEST_CASE("exp: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(102);
  check_unary([](const Tensor& x) { return exp(x); }, normal(gen));
}

TEST_CASE("log: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(103);
  check_unary([](const Tensor& x) { return log(x); }, in_range(0.2, 3.0, gen));
}

TEST_CASE("sqrt: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(104);
  check_unary([](const Tensor& x) { return sqrt(x); }, in_range(0.2, 3.0, gen));
}

TEST_CASE("abs: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(105);
  check_unary([](const Tensor& x) { return abs(x); }, avoiding({0.0}, gen));
}

TEST_CASE("relu: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(106);
  check_unary([](const Tensor& x) { return relu(x); }, avoiding({0.0}, gen));
}

TEST_CASE("gelu: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(107);
  check_unary([](const Tensor& x) { return gelu(x); }, in_range(-4.0, 4.0, gen));
}

TEST_CASE("sigmoid: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(108);
  check_unary([](const Tensor& x) { return sigmoid(x); }, in_range(-4.0, 4.0, gen));
}

TEST_CASE("tanh: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(109);
  check_unary([](const Tensor& x) { return tanh(x); }, in_range(-3.0, 3.0, gen));
}

TEST_CASE("pow(x, double): analytic gradient matches finite differences",
          "[autograd][gradcheck]") {
  Generator gen(110);
  // Integer exponents are defined for every sign of x; fractional ones need x > 0.
  for (double p : {2.0, 3.0, 1.0}) {
    INFO("exponent " << p);
    check_unary([p](const Tensor& x) { return pow(x, p); }, normal(gen));
  }
  for (double p : {0.5, -1.5, 2.7}) {
    INFO("exponent " << p);
    check_unary([p](const Tensor& x) { return pow(x, p); }, in_range(0.3, 2.5, gen));
  }
  {
    INFO("exponent 0: constant output, zero gradient");
    check_unary([](const Tensor& x) { return pow(x, 0.0); }, normal(gen));
  }
}

TEST_CASE("pow(tensor, tensor): analytic gradient matches finite differences",
          "[autograd][gradcheck]") {
  Generator gen(111);
  check_binary([](const Tensor& a, const Tensor& b) { return pow(a, b); },
               in_range(0.3, 2.5, gen), normal(gen));
}

TEST_CASE("clamp: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(112);
  // Values inside, below and above the bounds, none within 0.1 of one.
  check_unary([](const Tensor& x) { return clamp(x, -0.5, 0.5); }, avoiding({-0.5, 0.5}, gen));
  {
    INFO("one-sided: only a lower bound");
    check_unary([](const Tensor& x) { return clamp(x, 0.2, inf); }, avoiding({0.2}, gen));
  }
  {
    INFO("one-sided: only an upper bound");
    check_unary([](const Tensor& x) { return clamp(x, -inf, -0.3); }, avoiding({-0.3}, gen));
  }
  {
    INFO("no bound at all: the identity");
    check_unary([](const Tensor& x) { return clamp(x, -inf, inf); }, normal(gen));
  }
}

TEST_CASE("add: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(113);
  check_binary([](const Tensor& a, const Tensor& b) { return add(a, b); }, normal(gen),
               normal(gen));
  {
    INFO("tensor + double and double + tensor");
    check_unary([](const Tensor& x) { return x + 1.5; }, normal(gen));
    check_unary([](const Tensor& x) { return 1.5 + x; }, normal(gen));
  }
}

TEST_CASE("sub: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(114);
  check_binary([](const Tensor& a, const Tensor& b) { return sub(a, b); }, normal(gen),
               normal(gen));
  {
    INFO("tensor - double and double - tensor");
    check_unary([](const Tensor& x) { return x - 1.5; }, normal(gen));
    check_unary([](const Tensor& x) { return 1.5 - x; }, normal(gen));
  }
}

TEST_CASE("mul: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(115);
  check_binary([](const Tensor& a, const Tensor& b) { return mul(a, b); }, normal(gen),
               normal(gen));
  {
    INFO("one operand used twice: x * x");
    check_unary([](const Tensor& x) { return x * x; }, normal(gen));
  }
  {
    INFO("tensor * double and double * tensor");
    check_unary([](const Tensor& x) { return x * -2.5; }, normal(gen));
    check_unary([](const Tensor& x) { return -2.5 * x; }, normal(gen));
  }
}

TEST_CASE("div: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(116);
  check_binary([](const Tensor& a, const Tensor& b) { return div(a, b); }, normal(gen),
               avoiding({0.0}, gen, 0.4));
  {
    INFO("tensor / double and double / tensor");
    check_unary([](const Tensor& x) { return x / 4.0; }, normal(gen));
    check_unary([](const Tensor& x) { return 2.0 / x; }, avoiding({0.0}, gen, 0.4));
  }
}

TEST_CASE("maximum: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  // Independent normal draws: no ties, so the whole gradient goes to the larger operand.
  Generator gen(117);
  check_binary([](const Tensor& a, const Tensor& b) { return maximum(a, b); }, normal(gen),
               normal(gen));
}

TEST_CASE("minimum: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(118);
  check_binary([](const Tensor& a, const Tensor& b) { return minimum(a, b); }, normal(gen),
               normal(gen));
}

TEST_CASE("maximum and minimum: a tie shares the gradient in halves", "[autograd][gradcheck]") {
  // At an exact tie the central difference of max(a, b) is 1/2 for each operand, the
  // split torch uses, so gradcheck can check it. Half the entries of b equal a's.
  Generator gen(122);
  std::vector<double> va = randn({3, 4}, gen, DType::f64).to_vector<double>();
  std::vector<double> vb = randn({3, 4}, gen, DType::f64).to_vector<double>();
  for (size_t i = 0; i < vb.size(); i += 2) vb[i] = va[i];
  Tensor a = requires_grad_(from_vector(va, {3, 4}, DType::f64));
  Tensor b = requires_grad_(from_vector(vb, {3, 4}, DType::f64));
  GradcheckReport rmax = check_pair([](const Tensor& x, const Tensor& y) { return maximum(x, y); }, a, b);
  INFO("maximum: " << rmax);
  CHECK(rmax.ok);
  GradcheckReport rmin = check_pair([](const Tensor& x, const Tensor& y) { return minimum(x, y); }, a, b);
  INFO("minimum: " << rmin);
  CHECK(rmin.ok);
}

TEST_CASE("where: gradients reach both branches, none the condition",
          "[autograd][gradcheck]") {
  Generator gen(119);
  {
    INFO("fixed condition, branches in every layout and broadcast");
    Tensor cond = randn({3, 4}, gen, DType::f64) > 0.0;
    Tensor cond314 = randn({3, 1, 4}, gen, DType::f64) > 0.0;
    check_binary([&](const Tensor& a, const Tensor& b) {
                   // A (3, 4) condition where it broadcasts, else one of (3, 1, 4).
                   const Shape out = broadcast_shapes(a.shape(), b.shape(), "test");
                   return where(out.size() == 3 ? cond314 : cond, a, b);
                 },
                 normal(gen), normal(gen));
  }
  {
    INFO("a condition computed from an input carries no gradient");
    // d/dc is zero numerically (c stays away from 0) and must be zero analytically.
    for (const Case& c : layouts({3, 4}, avoiding({0.0}, gen))) {
      Tensor a = requires_grad_(randn({3, 4}, gen, DType::f64));
      Tensor b = requires_grad_(randn({4}, gen, DType::f64));
      GradcheckReport r = gradcheck(
          [](const TensorList& in) { return where(in[0] > 0.0, in[1], in[2]); }, {c.x, a, b});
      INFO(c.layout << ": " << r);
      CHECK(r.ok);
    }
  }
  {
    INFO("where(cond, tensor, double)");
    Tensor cond = randn({3, 4}, gen, DType::f64) > 0.0;
    check_unary([&](const Tensor& x) { return where(cond, x, -7.0); }, normal(gen));
  }
}

TEST_CASE("to: float64 to float64 is the identity, gradient included",
          "[autograd][gradcheck]") {
  Generator gen(120);
  check_unary([](const Tensor& x) { return to(x, DType::f64); }, normal(gen));
  {
    INFO("followed by an op");
    check_unary([](const Tensor& x) { return to(x, DType::f64) * 3.0; }, normal(gen));
  }
}

TEST_CASE("to: the gradient of a float32 copy comes back in float64", "[autograd]") {
  // A float64 -> float32 -> float64 round trip loses digits, so finite differences at
  // eps = 1e-6 are meaningless there; check the backward by hand instead. The weights are
  // exact in float32, so the gradient of sum(w * to(x, f32)) is w exactly.
  Generator gen(121);
  const std::vector<double> w = {0.5, -1.25, 3.0, 0.0, 2.0, -0.75};
  Tensor x_full = randn({3, 4}, gen, DType::f64);
  for (Tensor x : {randn({2, 3}, gen, DType::f64), core::slice(x_full, 1, 0, 4, 2)}) {
    requires_grad_(x);
    Tensor y = to(x, DType::f32);
    CHECK(y.dtype() == DType::f32);
    backward(sum(y * from_vector(w, x.shape(), DType::f32)));
    const Tensor g = grad(x);
    REQUIRE(g.defined());
    CHECK(g.dtype() == DType::f64);
    CHECK(g.shape() == x.shape());
    CHECK(g.to_vector<double>() == w);
  }
}
