#pragma once
// The scalar formulas both backends compute, written once and callable on the host and,
// compiled by nvcc, on a CUDA device: sigmoid, gelu and its derivative, and the float32
// standard-normal pdf/cdf of the GEGLU kernels. The CPU loops (core/cpu/) and the CUDA
// kernels (core/cuda/) call these same definitions, so their results agree bit for bit
// wherever libm agrees (the float32 pdf/cdf call no libm at all). With -ffp-contract=off
// on the host and --fmad=false in nvcc, neither compiler contracts anything.
//
// The float32 pdf/cdf are plain arithmetic, selects and bit casts, force-inlined, so a CPU
// loop calling them vectorises at -O3 with SSE2 alone and widens under AVX2/AVX-512:
// every piece is computed for every element and the right one selected.
// tests/test_vector_math.cpp asserts their error bounds against double std::exp/std::erf:
//   normal_cdf_f32: absolute error <= 1e-7 everywhere, relative <= 1e-6 where cdf > 1e-30
//   normal_pdf_f32: the same bounds as the cdf
// NaN propagates; +-inf give the limits.
#include <cmath>
#include <cstdint>
#include <numbers>
#include <type_traits>

#ifdef __CUDACC__
#define MOEGRAD_SCALAR __host__ __device__ __forceinline__
#else
#include <bit>
#define MOEGRAD_SCALAR [[gnu::always_inline]] inline
#endif

namespace moegrad::scalar {

MOEGRAD_SCALAR uint32_t float_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  return std::bit_cast<uint32_t>(f);
#endif
}
MOEGRAD_SCALAR float bits_float(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  return std::bit_cast<float>(u);
#endif
}

// c ? a : b through bit masks. A plain ternary leaves a branch that GCC does not
// if-convert: it sinks each arm's arithmetic into the arm, or threads a clamp's constant
// through the code after it, and under the default -ftrapping-math it will not speculate
// float arithmetic back out of a branch, so the loop stays scalar.
MOEGRAD_SCALAR float select(bool c, float a, float b) {
  const uint32_t m = 0u - static_cast<uint32_t>(c);
  return bits_float((float_bits(a) & m) | (float_bits(b) & ~m));
}

// exp(hi + lo) for a small correction lo: the Gaussians need exp(-z^2/2) with z^2 carried
// in two floats, since rounding z^2 to one float costs a relative error of z^2 * 6e-8
// (4e-6 at z = 8). Needs hi in [-113, 89] and |lo| < 0.12.
MOEGRAD_SCALAR float exp_pair(float hi, float lo) {
  constexpr float kLog2e = 1.44269504f;
  // Cody-Waite: kLn2Hi has 9 significant bits, so n * kLn2Hi is exact for |n| < 2^15 and
  // hi - n * kLn2Hi is exact too (the two are close); kLn2Lo carries the rest of ln 2.
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  // Adding 1.5 * 2^23 rounds to the nearest integer in the low mantissa bits, with no
  // float-to-int conversion (undefined for NaN) and no SSE4.1 roundps.
  constexpr float kShift = 12582912.0f;
  const float shifted = (hi + lo) * kLog2e + kShift;
  const float n = shifted - kShift;
  const int32_t ni = static_cast<int32_t>(float_bits(shifted) - float_bits(kShift));
  const float r = ((hi - n * kLn2Hi) - n * kLn2Lo) + lo;
  // exp(r) = 1 + r + r^2 P(r): minimax for relative error on [-0.36, 0.36] (|r| <= ln2/2
  // plus lo), degree 6, fitted with numpy (Lawson IRLS); max error 5.2e-9 with these floats.
  const float p = 0.00138088479f;
  const float poly = ((((p * r + 0.00837149564f) * r + 0.0416686684f) * r + 0.166664973f) * r + 0.499999911f);
  const float e = 1.0f + (r + r * r * poly);
  // 2^n as two normal factors: one alone would overflow at n = 128 (results just below
  // FLT_MAX) and could not reach denormal results (n < -126); only the last product rounds.
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  const float s1 = bits_float(static_cast<uint32_t>(n1 + 127) << 23);
  const float s2 = bits_float(static_cast<uint32_t>(n2 + 127) << 23);
  return e * s1 * s2;
}

// -a^2/2 as hi + lo, hi exact: a's top 12 significant bits square exactly in a float.
MOEGRAD_SCALAR void half_square(float a, float& hi, float& lo) {
  const float ah = bits_float(float_bits(a) & 0xFFFFF000u);
  const float al = a - ah;
  hi = -0.5f * (ah * ah);
  lo = -0.5f * (al * (a + ah));
}

// Beyond this |z| the pdf and the lower tail are 0 in float (exp(-112.5) < 2^-150);
// clamping keeps inf out of the arithmetic, where inf - inf would make NaN.
inline constexpr float kMaxAbsZ = 15.0f;

// The standard normal density exp(-z^2/2) / sqrt(2 pi).
MOEGRAD_SCALAR float normal_pdf_f32(float z) {
  const float a = select(std::fabs(z) > kMaxAbsZ, kMaxAbsZ, std::fabs(z));
  float hi, lo;
  half_square(a, hi, lo);
  return exp_pair(hi, lo) * 0.398942280f;
}

// The standard normal cdf 0.5 * (1 + erf(z / sqrt 2)).
MOEGRAD_SCALAR float normal_cdf_f32(float z) {
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

// Phi(z) and phi(z) as the fused GEGLU kernels compute them: float32 through the
// functions above (no libm, so CPU row loops vectorise), float64 through libm.
template <typename T>
MOEGRAD_SCALAR T normal_cdf(T z) {
  if constexpr (std::is_same_v<T, float>) return normal_cdf_f32(z);
  else return T(0.5) * (T(1) + std::erf(z * T(std::numbers::sqrt2 / 2)));
}
template <typename T>
MOEGRAD_SCALAR T normal_pdf(T z) {
  if constexpr (std::is_same_v<T, float>) return normal_pdf_f32(z);
  else return std::exp(T(-0.5) * z * z) * T(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
}

template <typename T>
MOEGRAD_SCALAR T sigmoid(T x) {
  // Two branches so that exp never overflows.
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T>
MOEGRAD_SCALAR T gelu(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(std::numbers::sqrt2 / 2)));
}

// d/dx [x Phi(x)] = Phi(x) + x phi(x), both through libm (the unfused gelu's derivative).
template <typename T>
MOEGRAD_SCALAR T gelu_grad(T x) {
  const T cdf = T(0.5) * (T(1) + std::erf(x * T(std::numbers::sqrt2 / 2)));
  const T pdf = std::exp(T(-0.5) * x * x) * T(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
  return cdf + x * pdf;
}

}  // namespace moegrad::scalar
