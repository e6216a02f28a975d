#pragma once
// Tensors made from nothing or from host data. None of these carry a gradient graph, so
// they live in moegrad:: for every layer to use directly.
#include <initializer_list>
#include <vector>

#include "moegrad/core/backend.h"
#include "moegrad/core/tensor.h"

namespace moegrad {

// Uninitialised, contiguous.
Tensor empty(const Shape& shape, DType dtype = DType::f32, Backend& backend = cpu_backend());
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Backend& backend = cpu_backend());
Tensor ones(const Shape& shape, DType dtype = DType::f32, Backend& backend = cpu_backend());
Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
            Backend& backend = cpu_backend());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
// A 0-d tensor holding `value`, on t's backend, in `dtype`.
Tensor scalar_tensor(double value, DType dtype, Backend& backend = cpu_backend());

// The same on a named device (backend_for(device)).
inline Tensor empty(const Shape& shape, DType dtype, const Device& device) {
  return empty(shape, dtype, backend_for(device));
}
inline Tensor zeros(const Shape& shape, DType dtype, const Device& device) {
  return zeros(shape, dtype, backend_for(device));
}
inline Tensor ones(const Shape& shape, DType dtype, const Device& device) {
  return ones(shape, dtype, backend_for(device));
}
inline Tensor full(const Shape& shape, double value, DType dtype, const Device& device) {
  return full(shape, value, dtype, backend_for(device));
}
Tensor empty_like(const Tensor& t);

// [start, end) by step, like torch.arange.
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::i64,
              Backend& backend = cpu_backend());
inline Tensor arange(int64_t end, DType dtype = DType::i64) {
  return arange(0.0, static_cast<double>(end), 1.0, dtype);
}

// Copies host values; an empty shape means 1-d of values.size(). Converts T to dtype.
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, DType dtype,
                   Backend& backend = cpu_backend());
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape = {}) {
  return from_vector(values, shape, dtype_of<T>::value);
}
inline Tensor tensor(std::initializer_list<double> values, const Shape& shape = {},
                     DType dtype = DType::f64) {
  return from_vector(std::vector<double>(values), shape, dtype);
}

}  // namespace moegrad
