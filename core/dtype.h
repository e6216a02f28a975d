#pragma once
#include <cstdint>
#include <string_view>

#include "moegrad/core/error.h"

namespace moegrad {

enum class DType : uint8_t { f32, f64, i64, b8 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::b8: return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i64: return "int64";
    case DType::b8: return "bool";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::b8; };

// Calls f.template operator()<T>() with T the C++ type of `t`; kernels are written once
// as templates and instantiated here for every dtype they accept.
template <typename F>
decltype(auto) dispatch_float(DType t, std::string_view op, F&& f) {
  switch (t) {
    case DType::f32: return f.template operator()<float>();
    case DType::f64: return f.template operator()<double>();
    default: break;
  }
  throw Error(str_cat(op, ": expected a float32 or float64 tensor, got ", dtype_name(t)));
}

template <typename F>
decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f.template operator()<float>();
    case DType::f64: return f.template operator()<double>();
    case DType::i64: return f.template operator()<int64_t>();
    case DType::b8: return f.template operator()<bool>();
  }
  throw Error("unknown dtype");
}

// Numeric dtypes (no bool): the arithmetic ops.
template <typename F>
decltype(auto) dispatch_numeric(DType t, std::string_view op, F&& f) {
  switch (t) {
    case DType::f32: return f.template operator()<float>();
    case DType::f64: return f.template operator()<double>();
    case DType::i64: return f.template operator()<int64_t>();
    default: break;
  }
  throw Error(str_cat(op, ": expected a numeric tensor, got ", dtype_name(t)));
}

}  // namespace moegrad
