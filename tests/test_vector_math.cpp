// The float32 exp / normal pdf / normal cdf of core/cpu/vector_math.h against double
// std::exp / std::erfc, on dense sweeps and at the edges, with the bounds the header
// promises; and the float32 GEGLU kernels that use them against the float64 ones.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <vector>

#include "moegrad/core/core.h"
#include "moegrad/core/cpu/vector_math.h"

using namespace moegrad;
using namespace moegrad::cpu;
using moegrad::scalar::normal_cdf_f32;
using moegrad::scalar::normal_pdf_f32;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

double cdf_ref(float z) { return 0.5 * std::erfc(-static_cast<double>(z) / std::numbers::sqrt2); }
double pdf_ref(float z) {
  const double d = z;
  return std::exp(-0.5 * d * d) * (std::numbers::inv_sqrtpi / std::numbers::sqrt2);
}

// Both signs of every step-th float in [0, limit] by bit pattern (so every binade, down
// to the denormals, gets the same number of points), plus every float of the windows
// around the switch points of normal_cdf_f32 at -1 and 1, plus n evenly spaced points.
std::vector<float> sweep(float limit, uint32_t step, int64_t n) {
  std::vector<float> zs;
  for (uint32_t b = 0; b <= std::bit_cast<uint32_t>(limit); b += step) {
    zs.push_back(std::bit_cast<float>(b));
    zs.push_back(-std::bit_cast<float>(b));
  }
  for (float centre : {-1.0f, 1.0f})
    for (float z = centre - 0.01f; z <= centre + 0.01f; z = std::nextafter(z, kInf)) zs.push_back(z);
  for (int64_t i = 0; i <= n; ++i) zs.push_back(-limit + 2 * limit * static_cast<float>(i) / static_cast<float>(n));
  return zs;
}

// The largest errors and how many points broke the bounds, over one sweep.
struct Errors {
  double max_abs = 0, max_rel = 0;
  float at_abs = 0, at_rel = 0;
  int64_t failures = 0;
  float first_failure = 0;

  void add(float z, float got, double want, double abs_bound, double rel_bound, double rel_floor) {
    const double abs_err = std::fabs(got - want), rel_err = want > 0 ? abs_err / want : 0;
    if (abs_err > max_abs) max_abs = abs_err, at_abs = z;
    if (want > rel_floor && rel_err > max_rel) max_rel = rel_err, at_rel = z;
    if (abs_err > abs_bound || (want > rel_floor && rel_err > rel_bound) || std::isnan(got))
      if (failures++ == 0) first_failure = z;
  }
};

// The outputs of one function over a sweep, from a loop like the kernels' so that it
// runs the vectorised code.
template <typename F>
std::vector<float> apply(const std::vector<float>& xs, F f) {
  std::vector<float> out(xs.size());
  const float* __restrict__ in = xs.data();
  float* __restrict__ o = out.data();
  for (size_t i = 0; i < xs.size(); ++i) o[i] = f(in[i]);
  return out;
}

}  // namespace

TEST_CASE("normal_cdf_f32 and normal_pdf_f32 match double erfc / exp on a dense sweep", "[core][vector_math]") {
  const std::vector<float> zs = sweep(16.0f, 509, 2'000'000);
  const std::vector<float> cdf = apply(zs, [](float z) { return normal_cdf_f32(z); });
  const std::vector<float> pdf = apply(zs, [](float z) { return normal_pdf_f32(z); });
  Errors c, p;
  for (size_t i = 0; i < zs.size(); ++i) {
    c.add(zs[i], cdf[i], cdf_ref(zs[i]), 1e-7, 1e-6, 1e-30);
    p.add(zs[i], pdf[i], pdf_ref(zs[i]), 1e-7, 1e-6, 1e-30);
  }
  INFO(zs.size() << " points");
  INFO("cdf: max abs " << c.max_abs << " at " << c.at_abs << ", max rel " << c.max_rel << " at " << c.at_rel
                       << ", first failure at " << c.first_failure);
  INFO("pdf: max abs " << p.max_abs << " at " << p.at_abs << ", max rel " << p.max_rel << " at " << p.at_rel
                       << ", first failure at " << p.first_failure);
  REQUIRE(c.failures == 0);
  REQUIRE(p.failures == 0);
}

TEST_CASE("exp_f32 matches double exp on a dense sweep", "[core][vector_math]") {
  const std::vector<float> xs = sweep(104.0f, 1021, 2'000'000);
  const std::vector<float> ex = apply(xs, [](float x) { return exp_f32(x); });
  Errors normal, tiny;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double want = std::exp(static_cast<double>(xs[i]));
    if (xs[i] >= -87.0f && xs[i] <= 88.0f) {
      normal.add(xs[i], ex[i], want, std::numeric_limits<double>::infinity(), 2e-7, 0);
    } else if (xs[i] < -87.0f) {
      // Down to the denormals and 0: off by at most the rounding of the result.
      tiny.add(xs[i], ex[i], want, 2e-7 * want + std::numeric_limits<float>::denorm_min(), 1, 1);
    } else {
      // (88, 104]: accurate while finite, inf exactly where the true value rounds past FLT_MAX.
      const bool overflows = want >= 0x1.fffffe8p127;  // FLT_MAX + half an ulp
      if (overflows ? ex[i] != kInf : std::fabs(ex[i] - want) > 2e-7 * want) ++normal.failures;
    }
  }
  INFO("exp on [-87, 88]: max rel " << normal.max_rel << " at " << normal.at_rel << ", first failure at "
                                    << normal.first_failure);
  INFO("exp below -87: max abs " << tiny.max_abs << " at " << tiny.at_abs);
  REQUIRE(normal.failures == 0);
  REQUIRE(tiny.failures == 0);
}

TEST_CASE("vector_math edge cases: zeros, infinities, NaN, huge arguments", "[core][vector_math]") {
  for (float zero : {0.0f, -0.0f}) {
    CHECK(normal_cdf_f32(zero) == 0.5f);
    CHECK(normal_pdf_f32(zero) == static_cast<float>(std::numbers::inv_sqrtpi / std::numbers::sqrt2));
    CHECK(exp_f32(zero) == 1.0f);
  }
  CHECK(normal_cdf_f32(kInf) == 1.0f);
  CHECK(normal_cdf_f32(-kInf) == 0.0f);
  CHECK(normal_pdf_f32(kInf) == 0.0f);
  CHECK(normal_pdf_f32(-kInf) == 0.0f);
  CHECK(exp_f32(kInf) == kInf);
  CHECK(exp_f32(-kInf) == 0.0f);
  const float max = std::numeric_limits<float>::max();
  for (float big : {20.0f, 1e10f, max}) {
    CHECK(normal_cdf_f32(big) == 1.0f);
    CHECK(normal_cdf_f32(-big) == 0.0f);
    CHECK(normal_pdf_f32(big) == 0.0f);
    CHECK(normal_pdf_f32(-big) == 0.0f);
  }
  for (float big : {200.0f, 1e10f, max}) {
    CHECK(exp_f32(big) == kInf);
    CHECK(exp_f32(-big) == 0.0f);
  }
  // The last float whose exp is finite, and the first that overflows.
  CHECK(exp_f32(88.7228317f) == Approx(std::exp(88.7228317)).epsilon(2e-7));
  CHECK(exp_f32(std::nextafter(88.7228317f, kInf)) == kInf);
  // A quiet NaN and a signalling-pattern NaN whose payload is only in the low bits.
  for (float nan : {kNaN, -kNaN, std::bit_cast<float>(0x7f800001u)}) {
    CHECK(std::isnan(normal_cdf_f32(nan)));
    CHECK(std::isnan(normal_pdf_f32(nan)));
    CHECK(std::isnan(exp_f32(nan)));
  }
}

TEST_CASE("geglu float32 kernels agree with float64", "[core][vector_math]") {
  Generator gen(7);
  // h = 13: whole vectors and a remainder in every row; scaled so the gates reach the tails.
  Tensor x64 = normal({5, 26}, 0.0, 3.0, gen, DType::f64);
  Tensor g64 = randn({5, 13}, gen, DType::f64);
  Tensor x32 = core::to(x64, DType::f32), g32 = core::to(g64, DType::f32);
  Tensor mb64 = normal({13}, 1.0, 0.5, gen, DType::f64), mb32 = core::to(mb64, DType::f32);
  auto [out64, cdf64] = core::geglu(x64, mb64);
  auto [out32, cdf32] = core::geglu(x32, mb32);
  auto [dx64, dmb64] = core::geglu_backward(x64, cdf64, mb64, g64, true);
  auto [dx32, dmb32] = core::geglu_backward(x32, cdf32, mb32, g32, true);
  auto close = [](const Tensor& a32, const Tensor& a64) {
    const std::vector<double> a = a32.to_vector<double>(), b = a64.to_vector<double>();
    int64_t bad = 0;
    for (size_t i = 0; i < a.size(); ++i) bad += std::fabs(a[i] - b[i]) > 1e-6 * (1 + std::fabs(b[i]));
    return bad;
  };
  CHECK(close(cdf32, cdf64) == 0);
  CHECK(close(out32, out64) == 0);
  CHECK(close(dx32, dx64) == 0);
  CHECK(close(dmb32, dmb64) == 0);
}
