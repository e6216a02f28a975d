#include "moegrad/core/creation.h"

#include <cmath>
#include <new>

#include "moegrad/core/checked_math.h"
#include "moegrad/core/memory_budget.h"

namespace moegrad {

Tensor empty(const Shape& shape, DType dtype, Backend& backend) {
  const int64_t bytes = checked_mul(shape_numel(shape, "empty"), static_cast<int64_t>(dtype_size(dtype)),
                                    "empty: the byte count of a tensor");
  auto impl = std::make_shared<TensorImpl>();
  try {
    impl->storage = std::make_shared<Storage>(static_cast<size_t>(bytes), backend);
  } catch (const std::bad_alloc&) {
    throw OutOfMemoryError(str_cat("out of memory allocating a ", dtype, " tensor of shape ", shape,
                                   ": ", bytes, " bytes (", format_bytes(bytes), ")"));
  }
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, DType dtype, Backend& backend) {
  Tensor t = empty(shape, dtype, backend);
  backend.fill(t, value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Backend& backend) {
  return full(shape, 0.0, dtype, backend);
}
Tensor ones(const Shape& shape, DType dtype, Backend& backend) {
  return full(shape, 1.0, dtype, backend);
}
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.backend()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.backend()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.backend()); }
Tensor full_like(const Tensor& t, double value) {
  return full(t.shape(), value, t.dtype(), t.backend());
}
Tensor scalar_tensor(double value, DType dtype, Backend& backend) {
  return full({}, value, dtype, backend);
}

Tensor arange(double start, double end, double step, DType dtype, Backend& backend) {
  MOEGRAD_CHECK(step != 0.0, "arange: step must be non-zero");
  MOEGRAD_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
                "arange: start, end and step must be finite, got ", start, ", ", end, ", ", step);
  double span = (end - start) / step;
  int64_t n = span > 0 ? checked_floor_to_int64(std::ceil(span), "arange: the element count") : 0;
  Tensor t = empty({n}, dtype, backend);
  backend.arange(t, start, step);
  return t;
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, DType dtype,
                   Backend& backend) {
  Shape s = shape.empty() ? Shape{static_cast<int64_t>(values.size())} : shape;
  MOEGRAD_CHECK(shape_numel(s) == static_cast<int64_t>(values.size()), "from_vector: ",
                values.size(), " values do not fill shape ", s);
  // Convert on the host first so every backend receives its own dtype's bytes.
  Tensor t = empty(s, dtype, backend);
  dispatch_all(dtype, [&]<typename D>() {
    std::vector<D> host(values.size());
    for (size_t i = 0; i < values.size(); ++i) host[i] = static_cast<D>(values[i]);
    if constexpr (std::is_same_v<D, bool>) {
      std::vector<uint8_t> bytes(host.begin(), host.end());
      backend.copy_from_host(t.raw_data(), bytes.data(), bytes.size());
    } else {
      backend.copy_from_host(t.raw_data(), host.data(), host.size() * sizeof(D));
    }
  });
  return t;
}

template Tensor from_vector(const std::vector<float>&, const Shape&, DType, Backend&);
template Tensor from_vector(const std::vector<double>&, const Shape&, DType, Backend&);
template Tensor from_vector(const std::vector<int64_t>&, const Shape&, DType, Backend&);
template Tensor from_vector(const std::vector<int>&, const Shape&, DType, Backend&);
template Tensor from_vector(const std::vector<bool>&, const Shape&, DType, Backend&);

}  // namespace moegrad
