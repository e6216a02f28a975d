#pragma once
// Size arithmetic on values that come from users (configs, files, arguments). Every
// product or sum that sizes an allocation goes through these, so an absurd value is an
// Error naming `what` instead of a signed overflow that wraps into a small or negative size.
#include <cstdint>
#include <limits>
#include <string>

#include "moegrad/core/error.h"

namespace moegrad {

// a * b for non-negative sizes; throws Error("what: ... overflows") past INT64_MAX.
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r))
    throw Error(str_cat(what, ": the size ", a, " x ", b, " overflows a 64-bit count"));
  return r;
}

inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r))
    throw Error(str_cat(what, ": the size ", a, " + ", b, " overflows a 64-bit count"));
  return r;
}

// A finite, non-negative double rounded down to int64, or an Error if it cannot be one.
inline int64_t checked_floor_to_int64(double v, const char* what) {
  if (!(v >= 0) || !(v < 9.2e18)) throw Error(str_cat(what, ": ", v, " is not a representable size"));
  return static_cast<int64_t>(v);
}

}  // namespace moegrad
