// core/ raw ops: elementwise, reductions, softmax, cumsum, topk, matmul, indexing and
// joining. Expected values are worked out by hand in the comments beside them, or
// computed independently (a naive loop, <cmath>).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "moegrad/core/core.h"

using namespace moegrad;
using Catch::Matchers::Contains;

namespace {

using Doubles = std::vector<double>;
using Ints = std::vector<int64_t>;
using Bools = std::vector<bool>;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Doubles values(const Tensor& t) { return t.to_vector<double>(); }

auto close_to(const Doubles& expected, double margin = 1e-12) {
  return Catch::Matchers::Approx(expected).margin(margin);
}

// The message of the moegrad::Error that f throws; a marker when it throws none.
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no moegrad::Error thrown>";
}

Tensor un(UnaryOp op, const Tensor& x, double a = 0.0) { return core::unary(op, x, {a, 0.0}); }

}  // namespace

// ---------------------------------------------------------------- elementwise, unary

TEST_CASE("unary: exp, log, sqrt, abs, neg, sign, relu values", "[core]") {
  Tensor x = tensor({0.0, 1.0, -1.0, 2.0});
  CHECK_THAT(values(un(UnaryOp::exp, x)),
             close_to({1.0, 2.718281828459045, 0.36787944117144233, 7.38905609893065}));
  CHECK_THAT(values(un(UnaryOp::log, tensor({1.0, 2.718281828459045, 0.25}))),
             close_to({0.0, 1.0, -1.3862943611198906}));
  CHECK(values(un(UnaryOp::log, tensor({0.0})))[0] == -kInf);
  CHECK_THAT(values(un(UnaryOp::sqrt, tensor({4.0, 2.0, 0.0}))),
             close_to({2.0, 1.4142135623730951, 0.0}));
  CHECK(std::isnan(values(un(UnaryOp::sqrt, tensor({-1.0})))[0]));
  CHECK(values(un(UnaryOp::abs, x)) == Doubles{0, 1, 1, 2});
  CHECK(values(un(UnaryOp::neg, x)) == Doubles{-0.0, -1, 1, -2});
  CHECK(values(un(UnaryOp::sign, x)) == Doubles{0, 1, -1, 1});
  CHECK(values(un(UnaryOp::relu, x)) == Doubles{0, 1, 0, 2});

  // float32 runs the same kernels: exp(1) rounded to float.
  Tensor xf = core::to(x, DType::f32);
  CHECK(un(UnaryOp::exp, xf).dtype() == DType::f32);
  CHECK_THAT(values(un(UnaryOp::exp, xf)),
             close_to({1.0, 2.718281828459045, 0.36787944117144233, 7.38905609893065}, 1e-6));

  // int64 has the sign-style ops but not the transcendental ones.
  Tensor xi = tensor({-3, 0, 5}, {3}, DType::i64);
  CHECK(un(UnaryOp::abs, xi).to_vector<int64_t>() == Ints{3, 0, 5});
  CHECK(un(UnaryOp::relu, xi).to_vector<int64_t>() == Ints{0, 0, 5});
  CHECK(un(UnaryOp::neg, xi).to_vector<int64_t>() == Ints{3, 0, -5});
  CHECK_THAT(error_message([&] { un(UnaryOp::exp, xi); }),
             Contains("exp") && Contains("int64") && Contains("[3]"));
  CHECK_THAT(error_message([&] { un(UnaryOp::relu, tensor({1}, {1}, DType::b8)); }),
             Contains("relu") && Contains("bool"));
}

TEST_CASE("unary: gelu is x * Phi(x) with the exact erf", "[core]") {
  const Doubles xs{-6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0};
  Doubles expected;
  for (double v : xs) expected.push_back(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
  CHECK_THAT(values(un(UnaryOp::gelu, from_vector(xs))), close_to(expected, 1e-14));
  CHECK_THAT(values(un(UnaryOp::gelu, from_vector(xs, {}, DType::f32))), close_to(expected, 1e-6));
  // Hand check: gelu(1) = Phi(1) = 0.8413447460685429.
  CHECK(un(UnaryOp::gelu, tensor({1.0})).item<double>() ==
        Approx(0.8413447460685429).epsilon(1e-14));
}

TEST_CASE("unary: sigmoid and tanh, finite at large |x|", "[core]") {
  Tensor x = tensor({0.0, 2.0, -2.0, 1000.0, -1000.0});
  Doubles s = values(un(UnaryOp::sigmoid, x));
  // 1 / (1 + e^-2) = 0.8807970779778823
  CHECK_THAT(s, close_to({0.5, 0.8807970779778823, 0.11920292202211769, 1.0, 0.0}, 1e-15));
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor extremes = core::to(tensor({-1e4, -100.0, 100.0, 1e4}), dt);
    for (double v : values(un(UnaryOp::sigmoid, extremes))) {
      CHECK(std::isfinite(v));
      CHECK(v >= 0.0);
      CHECK(v <= 1.0);
    }
  }

  CHECK_THAT(values(un(UnaryOp::tanh, tensor({0.0, 0.5, -0.5, 20.0, -20.0}))),
             close_to({0.0, 0.46211715726000974, -0.46211715726000974, 1.0, -1.0}, 1e-15));
}

TEST_CASE("unary: pow by a scalar and clamp", "[core]") {
  Tensor x = tensor({-2.0, 0.5, 3.0});
  CHECK_THAT(values(un(UnaryOp::pow_scalar, x, 2.0)), close_to({4.0, 0.25, 9.0}));
  CHECK_THAT(values(un(UnaryOp::pow_scalar, x, 3.0)), close_to({-8.0, 0.125, 27.0}));
  Doubles halves = values(un(UnaryOp::pow_scalar, x, 0.5));
  CHECK(std::isnan(halves[0]));  // a negative base to a fractional power
  CHECK(halves[1] == Approx(0.7071067811865476));
  CHECK(halves[2] == Approx(1.7320508075688772));
  CHECK_THAT(values(un(UnaryOp::pow_scalar, x, -1.0)), close_to({-0.5, 2.0, 1.0 / 3.0}));

  Tensor y = tensor({-3.0, -1.0, 0.0, 2.0, 5.0});
  CHECK(values(core::clamp(y, -1.0, 2.0)) == Doubles{-1, -1, 0, 2, 2});
  CHECK(values(core::clamp(y, -kInf, 1.0)) == Doubles{-3, -1, 0, 1, 1});
  CHECK(core::clamp(core::to(y, DType::i64), 0.0, 3.0).to_vector<int64_t>() == Ints{0, 0, 0, 2, 3});
  CHECK_THAT(error_message([&] { core::clamp(y, 2.0, 1.0); }), Contains("clamp"));
}

// ---------------------------------------------------------------- elementwise, binary

TEST_CASE("binary: broadcasting (3,1) with (4) and with 0-d tensors", "[core]") {
  Tensor a = tensor({1, 2, 3}, {3, 1});
  Tensor b = tensor({10, 20, 30, 40});
  Tensor s = core::binary(BinaryOp::add, a, b);
  CHECK(s.shape() == Shape{3, 4});
  CHECK(values(s) == Doubles{11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  CHECK(values(core::binary(BinaryOp::sub, b, a)) ==
        Doubles{9, 19, 29, 39, 8, 18, 28, 38, 7, 17, 27, 37});
  CHECK(values(core::binary(BinaryOp::mul, a, b)) ==
        Doubles{10, 20, 30, 40, 20, 40, 60, 80, 30, 60, 90, 120});
  CHECK_THAT(values(core::binary(BinaryOp::div, b, a)),
             close_to({10, 20, 30, 40, 5, 10, 15, 20, 10.0 / 3, 20.0 / 3, 10, 40.0 / 3}));
  CHECK(values(core::binary(BinaryOp::pow, a, tensor({2.0}))) == Doubles{1, 4, 9});

  Tensor m = tensor({1, 2, 3, 4}, {2, 2});
  Tensor five = core::scalar_like(5.0, m);
  CHECK(five.dim() == 0);
  Tensor shifted = core::binary(BinaryOp::add, m, five);
  CHECK(shifted.shape() == Shape{2, 2});
  CHECK(values(shifted) == Doubles{6, 7, 8, 9});
  Tensor both_0d = core::binary(BinaryOp::mul, five, scalar_tensor(3.0, DType::f64));
  CHECK(both_0d.dim() == 0);
  CHECK(both_0d.item<double>() == 15.0);

  Tensor ia = tensor({1, 2, 3}, {3, 1}, DType::i64);
  Tensor ib = tensor({10, 20}, {2}, DType::i64);
  Tensor isum = core::binary(BinaryOp::add, ia, ib);
  CHECK(isum.dtype() == DType::i64);
  CHECK(isum.to_vector<int64_t>() == Ints{11, 21, 12, 22, 13, 23});
}

TEST_CASE("binary: comparisons and logical ops give bool", "[core]") {
  Tensor x = tensor({1, 2, 3});
  Tensor two = core::scalar_like(2.0, x);
  Tensor lt = core::binary(BinaryOp::lt, x, two);
  CHECK(lt.dtype() == DType::b8);
  CHECK(lt.to_vector<bool>() == Bools{true, false, false});
  CHECK(core::binary(BinaryOp::le, x, two).to_vector<bool>() == Bools{true, true, false});
  CHECK(core::binary(BinaryOp::gt, x, two).to_vector<bool>() == Bools{false, false, true});
  CHECK(core::binary(BinaryOp::ge, x, two).to_vector<bool>() == Bools{false, true, true});
  CHECK(core::binary(BinaryOp::eq, x, two).to_vector<bool>() == Bools{false, true, false});
  CHECK(core::binary(BinaryOp::ne, x, two).to_vector<bool>() == Bools{true, false, true});
  // NaN compares unequal to itself.
  CHECK(core::binary(BinaryOp::eq, tensor({kNaN}), tensor({kNaN})).to_vector<bool>() ==
        Bools{false});

  Tensor p = tensor({1, 1, 0, 0}, {4}, DType::b8);
  Tensor q = tensor({1, 0, 1, 0}, {4}, DType::b8);
  CHECK(core::binary(BinaryOp::logical_and, p, q).to_vector<bool>() ==
        Bools{true, false, false, false});
  CHECK(core::binary(BinaryOp::logical_or, p, q).to_vector<bool>() ==
        Bools{true, true, true, false});
  CHECK(core::binary(BinaryOp::eq, p, q).to_vector<bool>() == Bools{true, false, false, true});
  CHECK(core::unary(UnaryOp::logical_not, p).to_vector<bool>() == Bools{false, false, true, true});
}

TEST_CASE("binary: dtype and broadcast mismatches name the op and both shapes", "[core]") {
  Tensor f32 = zeros({2, 3}, DType::f32);
  Tensor f64 = zeros({3}, DType::f64);
  CHECK_THAT(error_message([&] { core::binary(BinaryOp::add, f32, f64); }),
             Contains("add") && Contains("[2, 3]") && Contains("[3]") && Contains("float32") &&
                 Contains("float64"));

  Tensor c = zeros({4}, DType::f32);
  CHECK_THAT(error_message([&] { core::binary(BinaryOp::mul, f32, c); }),
             Contains("mul") && Contains("[2, 3]") && Contains("[4]") && Contains("broadcast"));

  Tensor i = zeros({2}, DType::i64);
  CHECK_THAT(error_message([&] { core::binary(BinaryOp::div, i, i); }),
             Contains("div") && Contains("int64"));
  Tensor b = zeros({2}, DType::b8);
  CHECK_THAT(error_message([&] { core::binary(BinaryOp::add, b, b); }),
             Contains("add") && Contains("bool"));
}

TEST_CASE("where picks from a or b with broadcasting", "[core]") {
  Tensor cond = tensor({1, 0, 1}, {3}, DType::b8);
  Tensor a = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = scalar_tensor(-1.0, DType::f64);
  Tensor w = core::where(cond, a, b);
  CHECK(w.shape() == Shape{2, 3});
  CHECK(values(w) == Doubles{1, -1, 3, 4, -1, 6});
  CHECK_THAT(error_message([&] { core::where(a, a, b); }),
             Contains("where") && Contains("bool"));
  CHECK_THAT(error_message([&] { core::where(cond, a, zeros({2}, DType::f64)); }),
             Contains("where") && Contains("[2, 3]") && Contains("[2]"));
}

TEST_CASE("maximum and minimum propagate NaN", "[core]") {
  Tensor a = tensor({1.0, kNaN, 3.0, -kInf, 7.0});
  Tensor b = tensor({2.0, 0.0, kNaN, 5.0, 7.0});
  Doubles mx = values(core::binary(BinaryOp::maximum, a, b));
  Doubles mn = values(core::binary(BinaryOp::minimum, a, b));
  CHECK(mx[0] == 2.0);
  CHECK(std::isnan(mx[1]));
  CHECK(std::isnan(mx[2]));
  CHECK(mx[3] == 5.0);
  CHECK(mx[4] == 7.0);
  CHECK(mn[0] == 1.0);
  CHECK(std::isnan(mn[1]));
  CHECK(std::isnan(mn[2]));
  CHECK(mn[3] == -kInf);
  CHECK(mn[4] == 7.0);
  Tensor i = tensor({1, 9}, {2}, DType::i64);
  Tensor j = tensor({4, 2}, {2}, DType::i64);
  CHECK(core::binary(BinaryOp::maximum, i, j).to_vector<int64_t>() == Ints{4, 9});
}

// ---------------------------------------------------------------- reductions

TEST_CASE("sum, mean, amax, amin over axis sets, keepdim and negative axes", "[core]") {
  Tensor x = core::view(arange(0.0, 24.0, 1.0, DType::f64), {2, 3, 4});  // 12i + 4j + k
  Tensor all = core::sum(x);
  CHECK(all.dim() == 0);
  CHECK(all.item<double>() == 276.0);  // 0 + 1 + ... + 23

  Tensor s0 = core::sum(x, {0});  // x[0] + x[1] = 12 + 2 (4j + k)
  CHECK(s0.shape() == Shape{3, 4});
  CHECK(values(s0) == Doubles{12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});

  // Over i and k: 4 * 12 + 2 * 4 * 4j + 2 * (0 + 1 + 2 + 3) = 60 + 32j.
  CHECK(values(core::sum(x, {0, 2})) == Doubles{60, 92, 124});
  CHECK(values(core::sum(x, {-1, -3})) == Doubles{60, 92, 124});
  CHECK(values(core::sum(x, {2, 0})) == Doubles{60, 92, 124});

  Tensor sk = core::sum(x, {-1}, /*keepdim=*/true);  // 4 (12i + 4j) + 6
  CHECK(sk.shape() == Shape{2, 3, 1});
  CHECK(values(sk) == Doubles{6, 22, 38, 54, 70, 86});

  Tensor m = core::mean(x, {1});  // 12i + 4 + k
  CHECK(m.shape() == Shape{2, 4});
  CHECK(values(m) == Doubles{4, 5, 6, 7, 16, 17, 18, 19});
  CHECK(core::mean(x).item<double>() == 11.5);

  CHECK(values(core::amax(x, {1, 2})) == Doubles{11, 23});
  Tensor mn = core::amin(x, {0}, /*keepdim=*/true);
  CHECK(mn.shape() == Shape{1, 3, 4});
  CHECK(values(mn) == Doubles{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(core::amax(tensor({-5.0, -kInf})).item<double>() == -5.0);
  CHECK(std::isnan(core::amax(tensor({1.0, kNaN, 3.0})).item<double>()));

  // A non-contiguous input reduces in its own logical layout: rows of the transpose.
  Tensor t = core::transpose(core::view(arange(0.0, 6.0, 1.0, DType::f64), {2, 3}), 0, 1);
  CHECK(values(core::sum(t, {1})) == Doubles{3, 5, 7});  // [0+3, 1+4, 2+5]

  CHECK_THAT(error_message([&] { core::sum(x, {0, -3}); }),
             Contains("sum") && Contains("repeated"));
  CHECK_THAT(error_message([&] { core::sum(x, {3}); }), Contains("sum") && Contains("dim 3"));
  CHECK_THAT(error_message([&] { core::mean(arange(3)); }), Contains("mean") && Contains("int64"));
}

TEST_CASE("int64 and bool sums are int64", "[core]") {
  Tensor i = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, DType::i64);
  Tensor si = core::sum(i, {1});
  CHECK(si.dtype() == DType::i64);
  CHECK(si.to_vector<int64_t>() == Ints{6, 15});
  CHECK(core::amax(i, {0}).to_vector<int64_t>() == Ints{4, 5, 6});
  CHECK(core::amin(i).item<int64_t>() == 1);

  Tensor b = tensor({1, 0, 1, 1, 1, 0}, {2, 3}, DType::b8);
  Tensor sb = core::sum(b);
  CHECK(sb.dtype() == DType::i64);
  CHECK(sb.item<int64_t>() == 4);
  CHECK(core::sum(b, {0}).to_vector<int64_t>() == Ints{2, 1, 1});

  Tensor f = tensor({0.5, 0.25}, {2}, DType::f32);
  CHECK(core::sum(f).dtype() == DType::f32);
  CHECK(core::sum(f).item<float>() == 0.75f);

  // An empty sum is 0; an empty max has no value.
  CHECK(values(core::sum(zeros({0, 3}, DType::f64), {0})) == Doubles{0, 0, 0});
  CHECK_THAT(error_message([] { core::amax(zeros({0, 3}), {0}); }),
             Contains("amax") && Contains("[0, 3]"));
}

TEST_CASE("argmax and argmin take the lower index on ties", "[core]") {
  Tensor x = tensor({1, 3, 3, 0,  //
                     5, 5, 5, 5,  //
                     -1, -2, -3, -3},
                    {3, 4});
  Tensor am = core::argmax(x, 1);
  CHECK(am.dtype() == DType::i64);
  CHECK(am.to_vector<int64_t>() == Ints{1, 0, 0});
  CHECK(core::argmin(x, -1).to_vector<int64_t>() == Ints{3, 0, 2});
  // Down the columns: [1, 5, -1], [3, 5, -2], [3, 5, -3], [0, 5, -3].
  CHECK(core::argmax(x, 0).to_vector<int64_t>() == Ints{1, 1, 1, 1});
  CHECK(core::argmin(x, 0).to_vector<int64_t>() == Ints{2, 2, 2, 2});
  Tensor kept = core::argmax(x, 1, /*keepdim=*/true);
  CHECK(kept.shape() == Shape{3, 1});
  CHECK(core::argmax(tensor({2, 7, 7}, {3}, DType::i64), 0).item<int64_t>() == 1);
}

TEST_CASE("logsumexp is stable for large values and -inf rows", "[core]") {
  Tensor x = tensor({1e4, 1e4,  //
                     -kInf, -kInf,  //
                     0.0, std::log(3.0),  //
                     -1e4, -1e4},
                    {4, 2});
  Doubles l = values(core::logsumexp(x, {1}));
  CHECK(l[0] == Approx(1e4 + std::numbers::ln2).epsilon(1e-15));  // 1e4 + log 2
  CHECK(l[1] == -kInf);
  CHECK(l[2] == Approx(1.3862943611198906).epsilon(1e-15));  // log(1 + 3)
  CHECK(l[3] == Approx(-1e4 + std::numbers::ln2).epsilon(1e-15));

  Tensor lf = core::logsumexp(core::to(x, DType::f32), {-1}, /*keepdim=*/true);
  CHECK(lf.shape() == Shape{4, 1});
  CHECK(lf.dtype() == DType::f32);
  CHECK(values(lf)[0] == Approx(1e4 + std::numbers::ln2).margin(2e-3));  // float spacing near 1e4

  // NaN propagates, as in amax, even where every other entry is -inf.
  CHECK(std::isnan(core::logsumexp(tensor({kNaN})).item<double>()));
  CHECK(std::isnan(core::logsumexp(tensor({-kInf, kNaN})).item<double>()));
  CHECK(std::isnan(core::logsumexp(tensor({1.0, kNaN})).item<double>()));

  // Over several axes: four equal entries of 1e4 give 1e4 + log 4.
  Tensor big = full({2, 1, 2}, 1e4, DType::f64);
  CHECK(core::logsumexp(big, {0, 2}).item<double>() == Approx(1e4 + 2 * std::numbers::ln2));
}

TEST_CASE("softmax and log_softmax: rows sum to 1, stable for 1e4 logits", "[core]") {
  Tensor x = tensor({1, 2, 3,  //
                     1e4, 1e4, 1e4 - 1,  //
                     -1e4, 0, 1e4},
                    {3, 3});
  Tensor p = core::softmax(x, -1);
  // Row 0: e^i / (e + e^2 + e^3); row 1: [e, e, 1] / (2e + 1); row 2: one-hot.
  CHECK_THAT(values(p), close_to({0.09003057317038046, 0.24472847105479767, 0.6652409557748219,
                                  0.4223187982515182, 0.4223187982515182, 0.15536240349696362,
                                  0, 0, 1},
                                 1e-15));
  CHECK_THAT(values(core::sum(p, {1})), close_to({1, 1, 1}, 1e-15));

  Tensor lp = core::log_softmax(x, 1);
  // Row 0: i - log(e + e^2 + e^3); row 1: -log(2 + 1/e) twice, then that minus 1.
  CHECK_THAT(values(lp), close_to({-2.40760596444438, -1.4076059644443801, -0.40760596444438013,
                                   -0.8619948040582511, -0.8619948040582511, -1.8619948040582512,
                                   -2e4, -1e4, 0},
                                  1e-11));

  Tensor pf = core::softmax(core::to(x, DType::f32), 1);
  for (double v : values(pf)) CHECK(std::isfinite(v));
  CHECK_THAT(values(core::sum(pf, {1})), close_to({1, 1, 1}, 1e-6));
  for (double v : values(core::log_softmax(core::to(x, DType::f32), 1))) CHECK(std::isfinite(v));

  // Along axis 0: columns of [[0, 0], [log 3, 0]] give [1/4, 3/4] and [1/2, 1/2].
  Tensor c = tensor({0.0, 0.0, std::log(3.0), 0.0}, {2, 2});
  CHECK_THAT(values(core::softmax(c, 0)), close_to({0.25, 0.5, 0.75, 0.5}, 1e-15));
}

TEST_CASE("cumsum inclusive and exclusive along either axis", "[core]") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(values(core::cumsum(x, 1)) == Doubles{1, 3, 6, 4, 9, 15});
  CHECK(values(core::cumsum(x, -1, /*exclusive=*/true)) == Doubles{0, 1, 3, 0, 4, 9});
  CHECK(values(core::cumsum(x, 0)) == Doubles{1, 2, 3, 5, 7, 9});
  CHECK(values(core::cumsum(x, 0, /*exclusive=*/true)) == Doubles{0, 0, 0, 1, 2, 3});

  Tensor i = core::to(x, DType::i64);
  Tensor ci = core::cumsum(i, 1);
  CHECK(ci.dtype() == DType::i64);
  CHECK(ci.to_vector<int64_t>() == Ints{1, 3, 6, 4, 9, 15});
  CHECK(core::cumsum(i, 0, /*exclusive=*/true).to_vector<int64_t>() == Ints{0, 0, 0, 1, 2, 3});

  // A transposed input: the columns of x become rows.
  CHECK(values(core::cumsum(core::transpose(x, 0, 1), 1)) == Doubles{1, 5, 2, 7, 3, 9});
  CHECK_THAT(error_message([] { core::cumsum(zeros({2}, DType::b8), 0); }), Contains("cumsum"));
}

TEST_CASE("topk: descending, ties to the lower index, k = 0 and bad k", "[core]") {
  Tensor x = tensor({1, 3, 3, 2,  //
                     5, -1, 5, 5},
                    {2, 4});
  auto [v2, i2] = core::topk(x, 2);
  CHECK(v2.shape() == Shape{2, 2});
  CHECK(values(v2) == Doubles{3, 3, 5, 5});
  CHECK(i2.dtype() == DType::i64);
  CHECK(i2.to_vector<int64_t>() == Ints{1, 2, 0, 2});

  auto [v3, i3] = core::topk(x, 3, -1);
  CHECK(values(v3) == Doubles{3, 3, 2, 5, 5, 5});
  CHECK(i3.to_vector<int64_t>() == Ints{1, 2, 3, 0, 2, 3});

  // Down the columns: [1, 5], [3, -1], [3, 5], [2, 5].
  auto [vc, ic] = core::topk(x, 1, 0);
  CHECK(vc.shape() == Shape{1, 4});
  CHECK(values(vc) == Doubles{5, 3, 5, 5});
  CHECK(ic.to_vector<int64_t>() == Ints{1, 0, 1, 1});

  auto [v0, i0] = core::topk(x, 0);
  CHECK(v0.shape() == Shape{2, 0});
  CHECK(i0.shape() == Shape{2, 0});

  auto [vi, ii] = core::topk(tensor({4, 9, 9, 1}, {4}, DType::i64), 2);
  CHECK(vi.to_vector<int64_t>() == Ints{9, 9});
  CHECK(ii.to_vector<int64_t>() == Ints{1, 2});

  CHECK_THAT(error_message([&] { core::topk(x, 5); }),
             Contains("topk") && Contains("5") && Contains("[2, 4]"));
  CHECK_THAT(error_message([&] { core::topk(x, -1); }), Contains("topk"));
}

// ---------------------------------------------------------------- matmul

TEST_CASE("matmul 2-D against hand-computed values, float32 and float64", "[core]") {
  // [[1, 2, 3], [4, 5, 6]] @ [[7, 8], [9, 10], [11, 12]]
  //   = [[7 + 18 + 33, 8 + 20 + 36], [28 + 45 + 66, 32 + 50 + 72]] = [[58, 64], [139, 154]]
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor a = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, dt);
    Tensor b = tensor({7, 8, 9, 10, 11, 12}, {3, 2}, dt);
    Tensor c = core::matmul(a, b);
    CHECK(c.dtype() == dt);
    CHECK(c.shape() == Shape{2, 2});
    CHECK(values(c) == Doubles{58, 64, 139, 154});
  }
}

TEST_CASE("matmul reads transposed, strided and broadcast operands", "[core]") {
  const Doubles expected{58, 64, 139, 154};
  // The same a and b as above, stored transposed.
  Tensor at = core::transpose(tensor({1, 4, 2, 5, 3, 6}, {3, 2}), 0, 1);
  Tensor bt = core::transpose(tensor({7, 9, 11, 8, 10, 12}, {2, 3}), 0, 1);
  CHECK_FALSE(at.is_contiguous());
  CHECK(values(core::matmul(at, bt)) == expected);
  CHECK(values(core::matmul(at, tensor({7, 8, 9, 10, 11, 12}, {3, 2}))) == expected);

  // Every other column of a wider matrix: inner stride 2, which gemm cannot read as is.
  Tensor wide = tensor({1, -9, 2, -9, 3, -9, 4, -9, 5, -9, 6, -9}, {2, 6});
  Tensor a_strided = core::slice(wide, 1, 0, 6, 2);
  CHECK(a_strided.strides() == Shape{6, 2});
  CHECK(values(core::matmul(a_strided, bt)) == expected);

  // A stride-0 operand: b = [[1, 1], [2, 2], [3, 3]] from a (3, 1) column.
  // [[1, 2, 3], [4, 5, 6]] @ b = [[14, 14], [32, 32]]
  Tensor b_bcast = core::expand(tensor({1, 2, 3}, {3, 1}), {3, 2});
  CHECK(values(core::matmul(tensor({1, 2, 3, 4, 5, 6}, {2, 3}), b_bcast)) ==
        Doubles{14, 14, 32, 32});
}

TEST_CASE("matmul with broadcast batch dims matches a naive triple loop", "[core]") {
  Generator gen(5);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor a = randn({2, 1, 3, 4}, gen, dt);
    // b stored as (3, 5, 4) and transposed to (3, 4, 5): a non-contiguous batched operand.
    Tensor b = core::transpose(randn({3, 5, 4}, gen, dt), -1, -2);
    Tensor c = core::matmul(a, b);
    CHECK(c.shape() == Shape{2, 3, 3, 5});

    Doubles av = values(a), bv = values(b), got = values(c);
    Doubles want(2 * 3 * 3 * 5, 0.0);
    for (int64_t p = 0; p < 2; ++p)      // a's batch
      for (int64_t q = 0; q < 3; ++q)    // b's batch
        for (int64_t i = 0; i < 3; ++i)
          for (int64_t j = 0; j < 5; ++j) {
            double s = 0;
            for (int64_t k = 0; k < 4; ++k) s += av[p * 12 + i * 4 + k] * bv[q * 20 + k * 5 + j];
            want[((p * 3 + q) * 3 + i) * 5 + j] = s;
          }
    CHECK_THAT(got, close_to(want, dt == DType::f32 ? 1e-5 : 1e-12));
  }
}

TEST_CASE("matmul with 1-D operands drops the promoted dims", "[core]") {
  Tensor v = tensor({1, 2, 3});
  Tensor w = tensor({4, 5, 6});
  Tensor dot = core::matmul(v, w);  // 4 + 10 + 18
  CHECK(dot.dim() == 0);
  CHECK(dot.item<double>() == 32.0);

  Tensor a = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = tensor({7, 8, 9, 10, 11, 12}, {3, 2});
  Tensor vb = core::matmul(v, b);  // [7 + 18 + 33, 8 + 20 + 36]
  CHECK(vb.shape() == Shape{2});
  CHECK(values(vb) == Doubles{58, 64});
  Tensor av = core::matmul(a, v);  // [1 + 4 + 9, 4 + 10 + 18]
  CHECK(av.shape() == Shape{2});
  CHECK(values(av) == Doubles{14, 32});

  // Batched matrix @ vector and vector @ batched matrix: batch 1 is 10 * batch 0.
  Tensor ten_a = core::binary(BinaryOp::mul, a, core::scalar_like(10, a));
  Tensor batch_a = core::stack({a, ten_a}, 0);
  Tensor bav = core::matmul(batch_a, v);
  CHECK(bav.shape() == Shape{2, 2});
  CHECK(values(bav) == Doubles{14, 32, 140, 320});
  Tensor batch_b = core::stack({b, b}, 0);
  Tensor vbb = core::matmul(v, batch_b);
  CHECK(vbb.shape() == Shape{2, 2});
  CHECK(values(vbb) == Doubles{58, 64, 58, 64});

  // A strided vector (every other element of [1, 0, 2, 0, 3, 0]).
  Tensor v_strided = core::slice(tensor({1, 0, 2, 0, 3, 0}), 0, 0, 6, 2);
  CHECK(values(core::matmul(v_strided, b)) == Doubles{58, 64});
  CHECK(core::matmul(v_strided, w).item<double>() == 32.0);

  // An empty inner dimension sums nothing.
  Tensor no_k = core::matmul(zeros({2, 0}, DType::f64), zeros({0, 3}, DType::f64));
  CHECK(no_k.shape() == Shape{2, 3});
  CHECK(values(no_k) == Doubles(6, 0.0));
}

TEST_CASE("matmul shape and dtype errors name matmul and both shapes", "[core]") {
  Tensor a = zeros({2, 3});
  Tensor b = zeros({4, 5});
  CHECK_THAT(error_message([&] { core::matmul(a, b); }),
             Contains("matmul") && Contains("inner") && Contains("[2, 3]") && Contains("[4, 5]"));
  CHECK_THAT(error_message([&] { core::matmul(zeros({3}), zeros({4})); }),
             Contains("matmul") && Contains("[3]") && Contains("[4]"));
  CHECK_THAT(error_message([&] { core::matmul(zeros({2, 2, 3}), zeros({3, 3, 2})); }),
             Contains("matmul") && Contains("[2]") && Contains("[3]"));
  CHECK_THAT(error_message([&] { core::matmul(a, zeros({3, 2}, DType::f64)); }),
             Contains("matmul") && Contains("float32") && Contains("float64"));
  Tensor ia = zeros({2, 3}, DType::i64);
  Tensor ib = zeros({3, 2}, DType::i64);
  CHECK_THAT(error_message([&] { core::matmul(ia, ib); }),
             Contains("matmul") && Contains("int64"));
}

// ---------------------------------------------------------------- indexing

TEST_CASE("gather picks along an axis", "[core]") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor idx = tensor({2, 0, 1, 1}, {2, 2}, DType::i64);
  Tensor g = core::gather(x, 1, idx);  // [[x[0][2], x[0][0]], [x[1][1], x[1][1]]]
  CHECK(g.shape() == Shape{2, 2});
  CHECK(values(g) == Doubles{3, 1, 5, 5});

  Tensor g0 = core::gather(x, 0, tensor({1, 0, 1}, {1, 3}, DType::i64));  // [[x10, x01, x12]]
  CHECK(values(g0) == Doubles{4, 2, 6});

  Tensor gt = core::gather(core::transpose(x, 0, 1), -1, tensor({1, 0, 0}, {3, 1}, DType::i64));
  CHECK(values(gt) == Doubles{4, 2, 3});  // rows of the transpose: [1, 4], [2, 5], [3, 6]
}

TEST_CASE("scatter_add accumulates repeated indices", "[core]") {
  Tensor src = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor idx = tensor({0, 0, 2, 1, 1, 1}, {2, 3}, DType::i64);
  Tensor base = zeros({2, 3}, DType::f64);
  Tensor out = core::scatter_add(base, 1, idx, src);
  // Row 0: 1 + 2 to column 0, 3 to column 2; row 1: 4 + 5 + 6 to column 1.
  CHECK(values(out) == Doubles{3, 0, 3, 0, 15, 0});
  CHECK(values(base) == Doubles(6, 0.0));  // the out-of-place form leaves x alone

  Tensor acc = ones({3, 2}, DType::f64);
  // Along axis 0: column 0 gets 1 + 4 at row 2; column 1 gets 2 + 5 at row 0.
  core::scatter_add_(acc, 0, tensor({2, 0, 2, 0}, {2, 2}, DType::i64),
                     tensor({1, 2, 4, 5}, {2, 2}));
  CHECK(values(acc) == Doubles{1, 8, 1, 1, 6, 1});

  Tensor ci = core::scatter_add(zeros({4}, DType::i64), 0, tensor({3, 3, 0}, {3}, DType::i64),
                                tensor({1, 1, 1}, {3}, DType::i64));
  CHECK(ci.to_vector<int64_t>() == Ints{1, 0, 0, 2});
}

TEST_CASE("index_select and one_hot", "[core]") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor cols = core::index_select(x, 1, tensor({2, 0, 2}, {3}, DType::i64));
  CHECK(cols.shape() == Shape{2, 3});
  CHECK(values(cols) == Doubles{3, 1, 3, 6, 4, 6});
  Tensor row = core::index_select(x, 0, tensor({1}, {1}, DType::i64));
  CHECK(row.shape() == Shape{1, 3});
  CHECK(values(row) == Doubles{4, 5, 6});
  // A non-contiguous index: every other element of [1, 9, 0, 9].
  Tensor strided_idx = core::slice(tensor({1, 9, 0, 9}, {4}, DType::i64), 0, 0, 4, 2);
  CHECK(values(core::index_select(x, 0, strided_idx)) == Doubles{4, 5, 6, 1, 2, 3});

  Tensor oh = core::one_hot(tensor({2, 0, 1}, {3}, DType::i64), 4);
  CHECK(oh.dtype() == DType::i64);
  CHECK(oh.shape() == Shape{3, 4});
  CHECK(oh.to_vector<int64_t>() == Ints{0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0});
  Tensor ohf = core::one_hot(tensor({1, 0}, {2, 1}, DType::i64), 2, DType::f32);
  CHECK(ohf.dtype() == DType::f32);
  CHECK(ohf.shape() == Shape{2, 1, 2});
  CHECK(values(ohf) == Doubles{0, 1, 1, 0});
}

TEST_CASE("an out-of-range or non-int64 index names the op", "[core]") {
  Tensor x = zeros({2, 3}, DType::f64);
  CHECK_THAT(error_message([&] { core::gather(x, 1, tensor({0, 3}, {1, 2}, DType::i64)); }),
             Contains("gather") && Contains("index 3") && Contains("[0, 3)") && Contains("[2, 3]"));
  CHECK_THAT(error_message([&] { core::index_select(x, 0, tensor({-1}, {1}, DType::i64)); }),
             Contains("index_select") && Contains("-1") && Contains("[0, 2)"));
  CHECK_THAT(error_message([&] {
               core::scatter_add(x, 0, tensor({2}, {1, 1}, DType::i64), tensor({1.0}, {1, 1}));
             }),
             Contains("scatter_add") && Contains("index 2") && Contains("[0, 2)"));
  CHECK_THAT(error_message([&] { core::one_hot(tensor({4}, {1}, DType::i64), 4); }),
             Contains("one_hot") && Contains("index 4") && Contains("[0, 4)"));
  CHECK_THAT(error_message([&] { core::gather(x, 1, zeros({2, 1}, DType::f32)); }),
             Contains("gather") && Contains("int64"));
}

// ---------------------------------------------------------------- joining

TEST_CASE("cat and stack", "[core]") {
  Tensor a = tensor({1, 2, 3, 4}, {2, 2});
  Tensor b = tensor({5, 6}, {1, 2});
  Tensor c0 = core::cat({a, b}, 0);
  CHECK(c0.shape() == Shape{3, 2});
  CHECK(values(c0) == Doubles{1, 2, 3, 4, 5, 6});
  Tensor c1 = core::cat({a, tensor({7, 8}, {2, 1}), core::transpose(a, 0, 1)}, -1);
  CHECK(c1.shape() == Shape{2, 5});
  CHECK(values(c1) == Doubles{1, 2, 7, 1, 3, 3, 4, 8, 2, 4});

  CHECK_THAT(error_message([&] { core::cat({a, zeros({3, 3}, DType::f64)}, 0); }),
             Contains("cat") && Contains("[3, 3]") && Contains("[2, 2]"));
  CHECK_THAT(error_message([&] { core::cat({a, zeros({1, 2}, DType::f32)}, 0); }),
             Contains("cat") && Contains("float32") && Contains("float64"));

  Tensor x = tensor({1, 2, 3});
  Tensor y = tensor({4, 5, 6});
  Tensor s0 = core::stack({x, y}, 0);
  CHECK(s0.shape() == Shape{2, 3});
  CHECK(values(s0) == Doubles{1, 2, 3, 4, 5, 6});
  Tensor s1 = core::stack({x, y}, -1);
  CHECK(s1.shape() == Shape{3, 2});
  CHECK(values(s1) == Doubles{1, 4, 2, 5, 3, 6});
  CHECK_THAT(error_message([&] { core::stack({x, zeros({2}, DType::f64)}, 0); }),
             Contains("stack") && Contains("[2]") && Contains("[3]"));
}

TEST_CASE("split and chunk return views of the pieces", "[core]") {
  Tensor x = arange(7);
  TensorList parts = core::split(x, 3, 0);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].to_vector<int64_t>() == Ints{0, 1, 2});
  CHECK(parts[1].to_vector<int64_t>() == Ints{3, 4, 5});
  CHECK(parts[2].to_vector<int64_t>() == Ints{6});
  CHECK(parts[1].storage() == x.storage());

  TensorList sized = core::split(x, std::vector<int64_t>{2, 5}, -1);
  REQUIRE(sized.size() == 2);
  CHECK(sized[0].to_vector<int64_t>() == Ints{0, 1});
  CHECK(sized[1].to_vector<int64_t>() == Ints{2, 3, 4, 5, 6});
  CHECK_THAT(error_message([&] { core::split(x, std::vector<int64_t>{2, 4}, 0); }),
             Contains("split") && Contains("[7]"));

  TensorList c = core::chunk(arange(5), 3, 0);  // pieces of ceil(5 / 3) = 2
  REQUIRE(c.size() == 3);
  CHECK(c[0].to_vector<int64_t>() == Ints{0, 1});
  CHECK(c[1].to_vector<int64_t>() == Ints{2, 3});
  CHECK(c[2].to_vector<int64_t>() == Ints{4});
  CHECK(core::chunk(arange(6), 4, 0).size() == 3);  // pieces of 2: only three of them

  Tensor g = core::view(arange(12), {3, 4});
  TensorList halves = core::chunk(g, 2, 1);
  REQUIRE(halves.size() == 2);
  CHECK(halves[1].shape() == Shape{3, 2});
  CHECK(halves[1].to_vector<int64_t>() == Ints{2, 3, 6, 7, 10, 11});
}

// ---------------------------------------------------------------- in place

TEST_CASE("fill_, copy_ and binary_ write into a non-contiguous view", "[core]") {
  Tensor base = zeros({3, 4}, DType::f64);
  // Columns 0 and 2 of base, as the rows of a (2, 3) view with strides (2, 4).
  Tensor v = core::slice(core::transpose(base, 0, 1), 0, 0, 4, 2);
  CHECK(v.shape() == Shape{2, 3});
  CHECK(v.strides() == Shape{2, 4});

  core::fill_(v, 1.0);
  CHECK(values(base) == Doubles{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0});

  core::copy_(v, tensor({10, 20, 30}));  // broadcast over both rows of v
  CHECK(values(base) == Doubles{10, 0, 10, 0, 20, 0, 20, 0, 30, 0, 30, 0});

  core::binary_(BinaryOp::add, v, tensor({100, 200}, {2, 1}));  // +100 to column 0, +200 to 2
  CHECK(values(base) == Doubles{110, 0, 210, 0, 120, 0, 220, 0, 130, 0, 230, 0});

  core::binary_(BinaryOp::mul, v, v);  // the identical view is read and written in step
  CHECK(values(base) == Doubles{12100, 0, 44100, 0, 14400, 0, 48400, 0, 16900, 0, 52900, 0});

  // copy_ converts dtypes on the way.
  Tensor ints = zeros({2, 2}, DType::i64);
  core::copy_(core::transpose(ints, 0, 1), tensor({1.9, 2.1, 3.5, -4.5}, {2, 2}));
  CHECK(ints.to_vector<int64_t>() == Ints{1, 3, 2, -4});

  CHECK_THAT(error_message([&] { core::binary_(BinaryOp::add, v, zeros({4, 2, 3}, DType::f64)); }),
             Contains("add") && Contains("[2, 3]"));
}

TEST_CASE("copy_ and binary_ from an overlapping view read the old values", "[core]") {
  // x[1:] = x[:-1] on [1, 2, 3, 4] is [1, 1, 2, 3], not a smear of 1s.
  Tensor x = tensor({1, 2, 3, 4});
  core::copy_(core::narrow(x, 0, 1, 3), core::narrow(x, 0, 0, 3));
  CHECK(values(x) == Doubles{1, 1, 2, 3});

  // y[1:] += y[:-1] on [1, 2, 3, 4] is [1, 3, 5, 7], not the running sum [1, 3, 6, 10].
  Tensor y = tensor({1, 2, 3, 4});
  core::binary_(BinaryOp::add, core::narrow(y, 0, 1, 3), core::narrow(y, 0, 0, 3));
  CHECK(values(y) == Doubles{1, 3, 5, 7});
}
