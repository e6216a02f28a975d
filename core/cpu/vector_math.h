#pragma once
// Float32 exp for the CPU kernels: glibc's expf is an opaque scalar call, so a loop that
// calls it cannot be vectorised, and without libmvec or -ffast-math GCC has no vector
// variant to call. This one is plain arithmetic on the shared pieces of
// core/scalar_formulas.h (which also holds the float32 normal pdf/cdf the GEGLU kernels
// use), force-inlined, so a loop calling it vectorises at -O3.
// tests/test_vector_math.cpp asserts: relative error <= 2e-7 on [-87, 88]. The bounds hold
// too when -march=native lets GCC contract a * b + c into FMAs.
#include "moegrad/core/scalar_formulas.h"

namespace moegrad::cpu {

// exp(x) in float. Overflows to inf past ln(FLT_MAX) as expf does, and is 0 below about
// -103.9; results between come out as denormals, not flushed to 0.
[[gnu::always_inline]] inline float exp_f32(float x) {
  using scalar::select;
  // Not fmin/fmax: a NaN compares false and so passes through.
  const float xc = select(x < -104.0f, -104.0f, select(x > 89.0f, 89.0f, x));
  return scalar::exp_pair(xc, 0.0f);
}

}  // namespace moegrad::cpu
