#pragma once
// Float32 exp and standard-normal pdf/cdf for the GEGLU kernels (core/cpu/fused.cpp).
// glibc's expf and erff are opaque scalar calls, so a loop that calls them cannot be
// vectorised, and without libmvec or -ffast-math GCC has no vector variant to call.
// These are plain arithmetic, selects and bit casts, force-inlined, so a loop calling
// them vectorises at -O3 with SSE2 alone and widens under AVX2/AVX-512: every piece is
// computed for every element and the right one selected.
// tests/test_vector_math.cpp asserts the error bounds against double std::exp/std::erf:
//   exp_f32:        relative error <= 2e-7 on [-87, 88]
//   normal_cdf_f32: absolute error <= 1e-7 everywhere, relative <= 1e-6 where cdf > 1e-30
//   normal_pdf_f32: the same bounds as the cdf
// NaN propagates; +-inf give the limits. The bounds hold too when -march=native lets GCC
// contract a * b + c into FMAs (measured: cdf 6.6e-8 absolute, 3.7e-7 relative).
#include <bit>
#include <cmath>
#include <cstdint>

namespace moegrad::cpu {

namespace vector_math_detail {

// c ? a : b through bit masks. A plain ternary leaves a branch that GCC does not
// if-convert: it sinks each arm's arithmetic into the arm, or threads a clamp's constant
// through the code after it, and under the default -ftrapping-math it will not speculate
// float arithmetic back out of a branch, so the loop stays scalar.
[[gnu::always_inline]] inline float select(bool c, float a, float b) {
  const uint32_t m = 0u - static_cast<uint32_t>(c);
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & m) | (std::bit_cast<uint32_t>(b) & ~m));
}

// exp(hi + lo) for a small correction lo: the Gaussians need exp(-z^2/2) with z^2 carried
// in two floats, since rounding z^2 to one float costs a relative error of z^2 * 6e-8
// (4e-6 at z = 8). Needs hi in [-113, 89] and |lo| < 0.12.
[[gnu::always_inline]] inline float exp_pair(float hi, float lo) {
  constexpr float kLog2e = 1.44269504f;
  // Cody-Waite: kLn2Hi has 9 significant bits, so n * kLn2Hi is exact for |n| < 2^15 and
  // hi - n * kLn2Hi is exact too (the two are close); kLn2Lo carries the rest of ln 2.
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  // Adding 1.5 * 2^23 rounds to the nearest integer in the low mantissa bits, with no
  // float-to-int conversion (undefined for NaN) and no SSE4.1 roundps.
  constexpr float kShift = 12582912.0f;
  const float shifted = (hi + lo) * kLog2e + kShift;
  const float n = shifted - kShift;
  const int32_t ni = static_cast<int32_t>(std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(kShift));
  const float r = ((hi - n * kLn2Hi) - n * kLn2Lo) + lo;
  // exp(r) = 1 + r + r^2 P(r): minimax for relative error on [-0.36, 0.36] (|r| <= ln2/2
  // plus lo), degree 6, fitted with numpy (Lawson IRLS); max error 5.2e-9 with these floats.
  const float p = 0.00138088479f;
  const float poly = ((((p * r + 0.00837149564f) * r + 0.0416686684f) * r + 0.166664973f) * r + 0.499999911f);
  const float e = 1.0f + (r + r * r * poly);
  // 2^n as two normal factors: one alone would overflow at n = 128 (results just below
  // FLT_MAX) and could not reach denormal results (n < -126); only the last product rounds.
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  const float s1 = std::bit_cast<float>(static_cast<uint32_t>(n1 + 127) << 23);
  const float s2 = std::bit_cast<float>(static_cast<uint32_t>(n2 + 127) << 23);
  return e * s1 * s2;
}

// -a^2/2 as hi + lo, hi exact: a's top 12 significant bits square exactly in a float.
[[gnu::always_inline]] inline void half_square(float a, float& hi, float& lo) {
  const float ah = std::bit_cast<float>(std::bit_cast<uint32_t>(a) & 0xFFFFF000u);
  const float al = a - ah;
  hi = -0.5f * (ah * ah);
  lo = -0.5f * (al * (a + ah));
}

// Beyond this |z| the pdf and the lower tail are 0 in float (exp(-112.5) < 2^-150);
// clamping keeps inf out of the arithmetic, where inf - inf would make NaN.
constexpr float kMaxAbsZ = 15.0f;

}  // namespace vector_math_detail

// exp(x) in float. Overflows to inf past ln(FLT_MAX) as expf does, and is 0 below about
// -103.9; results between come out as denormals, not flushed to 0.
[[gnu::always_inline]] inline float exp_f32(float x) {
  using vector_math_detail::select;
  // Not fmin/fmax: a NaN compares false and so passes through.
  const float xc = select(x < -104.0f, -104.0f, select(x > 89.0f, 89.0f, x));
  return vector_math_detail::exp_pair(xc, 0.0f);
}

// The standard normal density exp(-z^2/2) / sqrt(2 pi).
[[gnu::always_inline]] inline float normal_pdf_f32(float z) {
  using namespace vector_math_detail;
  const float a = select(std::fabs(z) > kMaxAbsZ, kMaxAbsZ, std::fabs(z));
  float hi, lo;
  half_square(a, hi, lo);
  return exp_pair(hi, lo) * 0.398942280f;
}

// The standard normal cdf 0.5 * (1 + erf(z / sqrt 2)).
[[gnu::always_inline]] inline float normal_cdf_f32(float z) {
  using namespace vector_math_detail;
  // Centre: cdf - 1/2 = z * C(z^2). C is minimax for relative error on |z| <= 1, degree 5
  // in z^2, fitted with numpy (Lawson IRLS); max absolute error of z * C 1.1e-8 with these floats.
  const float w = z * z;
  const float c = (((((-7.65420918e-06f * w + 0.000113486371f) * w - 0.00118632999f) * w + 0.00997332297f) * w -
                    0.0664903596f) * w + 0.398942292f);
  const float centre = 0.5f + z * c;
  // Tails: cdf(-a) = exp(-a^2/2) * P(a) / Q(a), from the Mills ratio, so the relative error
  // stays small all the way down (1 - erf would cancel). P / Q is minimax for relative error
  // on a >= 1, degrees 4 / 5 (so the 1/a decay is built in), fitted in 1/a with numpy
  // (linearised IRLS against mpmath); max relative error 2.6e-8 with these floats.
  const float a = select(std::fabs(z) > kMaxAbsZ, kMaxAbsZ, std::fabs(z));
  const float num = (((0.398942292f * a + 2.94220448f) * a + 11.249361f) * a + 23.305027f) * a + 22.601202f;
  const float den = ((((a + 7.37501574f) * a + 29.1977444f) * a + 65.7999496f) * a + 82.7074814f) * a + 45.1956367f;
  float hi, lo;
  half_square(a, hi, lo);
  const float tail = exp_pair(hi, lo) * (num / den);
  // The switch at |z| = 1: nearer 0 the tail's ~4e-7 relative error on a cdf near 1/2 breaks
  // the 1e-7 absolute bound; below -1 the centre's ~5e-8 absolute error grows too large
  // relative to the cdf, and above 1 one minus the tail is the more accurate (measured).
  // A NaN fails both comparisons and takes the centre, which is NaN.
  return select(z < -1.0f, tail, select(z > 1.0f, 1.0f - tail, centre));
}

}  // namespace moegrad::cpu
