// gradcheck itself: it must be able to fail. Custom ops (autograd/function.h) with a
// deliberately wrong backward are caught, with the worst entry named; inputs it cannot
// perturb meaningfully (float32, self-overlapping stride-0 views) are refused.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

using namespace moegrad;

namespace {

// y = x * x with the right backward, 2 x g.
struct SquareOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    ctx.save(x);
    return core::binary(BinaryOp::mul, x, x);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) { return {g * 2.0 * ctx.saved(0)}; }
};

// The classic slip: d(x^2)/dx written as 2 instead of 2x.
struct SquareForgetsXOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    ctx.save(x);
    return core::binary(BinaryOp::mul, x, x);
  }
  TensorList backward(const OpContext&, const Tensor& g) { return {g * 2.0}; }
};

// Right formula, 1% too large: beyond rtol = 1e-3, so gradcheck must notice.
struct SquareOnePercentOffOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    ctx.save(x);
    return core::binary(BinaryOp::mul, x, x);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {g * 2.02 * ctx.saved(0)};
  }
};

// y = a * b with the two gradients swapped: wrong wherever a != b.
struct MulSwappedOp {
  Tensor forward(OpContext& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_all(a, b);
    return core::binary(BinaryOp::mul, a, b);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {g * ctx.saved(0), g * ctx.saved(1)};
  }
};

// y = a * b claiming b has no gradient (an undefined tensor where one is due).
struct MulMissingGradOp {
  Tensor forward(OpContext& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_all(a, b);
    return core::binary(BinaryOp::mul, a, b);
  }
  TensorList backward(const OpContext& ctx, const Tensor& g) {
    return {g * ctx.saved(1), Tensor()};
  }
};

// y = x^T of a square x with the gradient not transposed back: right values, wrong
// places. Only the off-diagonal entries are wrong.
struct TransposeForgetsPermutationOp {
  Tensor forward(OpContext&, const Tensor& x) { return core::contiguous(core::transpose(x, 0, 1)); }
  TensorList backward(const OpContext&, const Tensor& g) { return {g}; }
};

GradcheckFn unary(Tensor (*op)(const Tensor&)) {
  return [op](const TensorList& in) { return op(in[0]); };
}

Tensor square(const Tensor& x) { return apply<SquareOp>(x); }
Tensor square_forgets_x(const Tensor& x) { return apply<SquareForgetsXOp>(x); }
Tensor square_one_percent_off(const Tensor& x) { return apply<SquareOnePercentOffOp>(x); }

}  // namespace

TEST_CASE("gradcheck passes a correct custom op", "[autograd][gradcheck]") {
  // The control for the failures below: same forward, right backward.
  Generator gen(401);
  Tensor x = requires_grad_(randn({3, 4}, gen, DType::f64));
  GradcheckReport r = gradcheck(unary(square), {x});
  INFO(r);
  CHECK(r.ok);
  CHECK(r.checked == 12 * 12);
  CHECK(r.max_abs_error < 1e-6);
}

TEST_CASE("gradcheck fails a backward that forgets a factor", "[autograd][gradcheck]") {
  Generator gen(402);
  Tensor x = requires_grad_(randn({3, 4}, gen, DType::f64));
  GradcheckReport r = gradcheck(unary(square_forgets_x), {x});
  INFO(r);
  CHECK_FALSE(r.ok);
  CHECK_FALSE(r.worst.empty());
  CHECK_THAT(r.worst, Catch::StartsWith("input 0 element ["));
  CHECK(r.max_abs_error > 0.1);
  // The report names the failure when printed.
  std::ostringstream os;
  os << r;
  CHECK_THAT(os.str(), Catch::Contains("FAILED") && Catch::Contains("worst"));
}

TEST_CASE("gradcheck fails a backward that is 1% off", "[autograd][gradcheck]") {
  Generator gen(403);
  // |x| >= 1, so the 1% error (>= 0.02 |g|) is well beyond atol + rtol * |numeric|.
  Tensor x = requires_grad_(uniform({2, 3}, 1.0, 2.0, gen, DType::f64));
  GradcheckReport r = gradcheck(unary(square_one_percent_off), {x});
  INFO(r);
  CHECK_FALSE(r.ok);
  CHECK_FALSE(r.worst.empty());
}

TEST_CASE("gradcheck fails swapped gradients of a two-input op", "[autograd][gradcheck]") {
  Generator gen(404);
  Tensor a = requires_grad_(randn({2, 3}, gen, DType::f64));
  Tensor b = requires_grad_(randn({2, 3}, gen, DType::f64) + 3.0);  // a != b everywhere
  GradcheckReport r =
      gradcheck([](const TensorList& in) { return apply<MulSwappedOp>(in[0], in[1]); }, {a, b});
  INFO(r);
  CHECK_FALSE(r.ok);
  CHECK_FALSE(r.worst.empty());
}

TEST_CASE("gradcheck fails a gradient that is missing for one input",
          "[autograd][gradcheck]") {
  Generator gen(405);
  Tensor a = requires_grad_(randn({2, 3}, gen, DType::f64) + 3.0);  // far from zero
  Tensor b = requires_grad_(randn({2, 3}, gen, DType::f64));
  GradcheckReport r = gradcheck(
      [](const TensorList& in) { return apply<MulMissingGradOp>(in[0], in[1]); }, {a, b});
  INFO(r);
  CHECK_FALSE(r.ok);
  // Input 0's gradient is right, so the worst entry is in input 1, whose analytic
  // gradient was taken as zeros.
  CHECK_THAT(r.worst, Catch::StartsWith("input 1 ") && Catch::Contains("analytic 0"));
  // With b alone marked, a stays a constant and the missing gradient still shows.
  Tensor a_const = randn({2, 3}, gen, DType::f64) + 3.0;
  GradcheckReport only_b = gradcheck(
      [&](const TensorList& in) { return apply<MulMissingGradOp>(a_const, in[0]); }, {b});
  INFO(only_b);
  CHECK_FALSE(only_b.ok);
}

TEST_CASE("gradcheck fails a gradient sent to the wrong elements", "[autograd][gradcheck]") {
  Generator gen(406);
  Tensor x = requires_grad_(randn({3, 3}, gen, DType::f64));
  GradcheckReport r = gradcheck(
      [](const TensorList& in) { return apply<TransposeForgetsPermutationOp>(in[0]); }, {x});
  INFO(r);
  CHECK_FALSE(r.ok);
  // Each wrong entry is off by exactly 1: analytic 1 where numeric is 0, or the reverse.
  CHECK(r.max_abs_error == Approx(1.0).margin(1e-6));
}

TEST_CASE("gradcheck refuses a float32 input", "[autograd][gradcheck]") {
  Generator gen(407);
  Tensor x = requires_grad_(randn({2, 3}, gen, DType::f32));
  CHECK_THROWS_AS(gradcheck(unary(square), {x}), moegrad::Error);
  CHECK_THROWS_WITH(gradcheck(unary(square), {x}),
                    Catch::Contains("input 0") && Catch::Contains("float32") &&
                        Catch::Contains("float64"));
  // A float32 input that does not require grad is not perturbed, so it is allowed.
  Tensor c = randn({2, 3}, gen, DType::f32);
  Tensor y = requires_grad_(randn({2, 3}, gen, DType::f64));
  GradcheckReport r = gradcheck(
      [](const TensorList& in) { return square(in[1]) * to(in[0], DType::f64); }, {c, y});
  INFO(r);
  CHECK(r.ok);
}

TEST_CASE("gradcheck refuses an expanded (stride-0) input", "[autograd][gradcheck]") {
  Generator gen(408);
  // Perturbing one element of a stride-0 view perturbs the whole broadcast row.
  Tensor x = requires_grad_(core::expand(randn({3, 1}, gen, DType::f64), {3, 4}));
  REQUIRE(x.strides()[1] == 0);
  CHECK_THROWS_AS(gradcheck(unary(square), {x}), moegrad::Error);
  CHECK_THROWS_WITH(gradcheck(unary(square), {x}),
                    Catch::Contains("overlaps itself") && Catch::Contains("stride 0 on dim 1"));
  // Size-1 dims may have any stride, including 0: nothing overlaps there.
  Tensor ok = requires_grad_(core::as_strided(randn({3}, gen, DType::f64), {3, 1}, {1, 0}, 0));
  GradcheckReport r = gradcheck(unary(square), {ok});
  INFO(r);
  CHECK(r.ok);
}

TEST_CASE("gradcheck refuses inputs none of which requires grad", "[autograd][gradcheck]") {
  Generator gen(409);
  Tensor x = randn({2, 3}, gen, DType::f64);
  CHECK_THROWS_WITH(gradcheck(unary(square), {x}), Catch::Contains("no input requires grad"));
}

TEST_CASE("a passing gradcheck's worst entry is the one with the largest error", "[autograd][gradcheck]") {
  // Before, "worst" ranked entries by how far they were from their tolerance, so a pass named
  // an exact 0 vs 0 entry beside a nonzero max error.
  Tensor x = requires_grad_(from_vector(std::vector<double>{0.0, 100.0, -3.0}, {3}));
  GradcheckReport r = gradcheck([](const TensorList& in) { return mul(mul(in[0], in[0]), in[0]); }, {x});
  INFO(r);
  REQUIRE(r.ok);
  REQUIRE(r.max_abs_error > 0);
  CHECK_THAT(r.worst, Catch::StartsWith("input 0 element [1], output element 1: analytic 30000"));
}
