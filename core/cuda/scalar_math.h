#pragma once
// Device-callable copies of the CPU backend's scalar formulas, term for term, so CUDA
// results match it bit for bit: gelu, its derivative and sigmoid (core/cpu/elementwise.cpp)
// and the float32 normal cdf/pdf of the GEGLU kernels (core/cpu/vector_math.h, whose
// polynomials and constants are repeated here). The CPU definitions are host-only; the
// conformance suite (tests/cuda/) pins these copies to them bitwise. With --fmad=false
// nvcc contracts nothing, as the CPU's -ffp-contract=off.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <type_traits>

#include "moegrad/core/cuda/api.h"

namespace moegrad::cuda {

__host__ __device__ inline uint32_t float_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}
__host__ __device__ inline float bits_float(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

template <typename T>
__host__ __device__ inline T sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T>
__host__ __device__ inline T gelu(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(std::numbers::sqrt2 / 2)));
}

template <typename T>
__host__ __device__ inline T gelu_grad(T x) {
  const T cdf = T(0.5) * (T(1) + std::erf(x * T(std::numbers::sqrt2 / 2)));
  const T pdf = std::exp(T(-0.5) * x * x) * T(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
  return cdf + x * pdf;
}

namespace normal_f32_detail {

__host__ __device__ inline float select(bool c, float a, float b) {
  const uint32_t m = 0u - static_cast<uint32_t>(c);
  return bits_float((float_bits(a) & m) | (float_bits(b) & ~m));
}

__host__ __device__ inline float exp_pair(float hi, float lo) {
  constexpr float kLog2e = 1.44269504f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kShift = 12582912.0f;
  const float shifted = (hi + lo) * kLog2e + kShift;
  const float n = shifted - kShift;
  const int32_t ni = static_cast<int32_t>(float_bits(shifted) - float_bits(kShift));
  const float r = ((hi - n * kLn2Hi) - n * kLn2Lo) + lo;
  const float p = 0.00138088479f;
  const float poly = ((((p * r + 0.00837149564f) * r + 0.0416686684f) * r + 0.166664973f) * r + 0.499999911f);
  const float e = 1.0f + (r + r * r * poly);
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  const float s1 = bits_float(static_cast<uint32_t>(n1 + 127) << 23);
  const float s2 = bits_float(static_cast<uint32_t>(n2 + 127) << 23);
  return e * s1 * s2;
}

__host__ __device__ inline void half_square(float a, float& hi, float& lo) {
  const float ah = bits_float(float_bits(a) & 0xFFFFF000u);
  const float al = a - ah;
  hi = -0.5f * (ah * ah);
  lo = -0.5f * (al * (a + ah));
}

constexpr float kMaxAbsZ = 15.0f;

}  // namespace normal_f32_detail

__host__ __device__ inline float normal_pdf_f32(float z) {
  using namespace normal_f32_detail;
  const float a = select(std::fabs(z) > kMaxAbsZ, kMaxAbsZ, std::fabs(z));
  float hi, lo;
  half_square(a, hi, lo);
  return exp_pair(hi, lo) * 0.398942280f;
}

__host__ __device__ inline float normal_cdf_f32(float z) {
  using namespace normal_f32_detail;
  const float w = z * z;
  const float c = (((((-7.65420918e-06f * w + 0.000113486371f) * w - 0.00118632999f) * w + 0.00997332297f) * w -
                    0.0664903596f) * w + 0.398942292f);
  const float centre = 0.5f + z * c;
  const float a = select(std::fabs(z) > kMaxAbsZ, kMaxAbsZ, std::fabs(z));
  const float num = (((0.398942292f * a + 2.94220448f) * a + 11.249361f) * a + 23.305027f) * a + 22.601202f;
  const float den = ((((a + 7.37501574f) * a + 29.1977444f) * a + 65.7999496f) * a + 82.7074814f) * a + 45.1956367f;
  float hi, lo;
  half_square(a, hi, lo);
  const float tail = exp_pair(hi, lo) * (num / den);
  return select(z < -1.0f, tail, select(z > 1.0f, 1.0f - tail, centre));
}

// Phi and phi as the CPU's fused kernels compute them: float32 through the copies above,
// float64 through libm.
template <typename T>
__host__ __device__ inline T normal_cdf(T z) {
  if constexpr (std::is_same_v<T, float>) return normal_cdf_f32(z);
  else return T(0.5) * (T(1) + std::erf(z * T(std::numbers::sqrt2 / 2)));
}
template <typename T>
__host__ __device__ inline T normal_pdf(T z) {
  if constexpr (std::is_same_v<T, float>) return normal_pdf_f32(z);
  else return std::exp(T(-0.5) * z * z) * T(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
}

}  // namespace moegrad::cuda
