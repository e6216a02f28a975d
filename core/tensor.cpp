#include "moegrad/core/tensor.h"

#include <cmath>
#include <iomanip>

#include "moegrad/core/backend.h"
#include "moegrad/core/creation.h"

namespace moegrad {

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[normalize_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // no element to be out of place, as torch says
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

Device Tensor::device() const { return backend().device(); }

namespace {
template <typename Range, typename Get>
void check_devices(const char* op, const Range& tensors, Get get) {
  const Tensor* first = nullptr;
  for (const auto& item : tensors) {
    const Tensor& t = get(item);
    if (!t.defined()) continue;
    if (!first) first = &t;
    else MOEGRAD_CHECK(t.device() == first->device(), op, ": expected tensors on one device, got ", first->device(),
                       " and ", t.device());
  }
}
}  // namespace

void check_same_device(const char* op, std::initializer_list<const Tensor*> tensors) {
  check_devices(op, tensors, [](const Tensor* t) -> const Tensor& { return *t; });
}
void check_same_device(const char* op, const TensorList& tensors) {
  check_devices(op, tensors, [](const Tensor& t) -> const Tensor& { return t; });
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * dtype_size(dtype());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor dense = empty(shape(), dtype(), backend());
  backend().copy(*this, dense);
  std::vector<T> out(numel());
  dispatch_all(dtype(), [&]<typename D>() {
    std::vector<D> host_storage;
    std::vector<uint8_t> bytes;
    if constexpr (std::is_same_v<D, bool>) {
      bytes.resize(numel());
      if (numel()) backend().copy_to_host(bytes.data(), dense.raw_data(), bytes.size());
      for (int64_t i = 0; i < numel(); ++i) out[i] = static_cast<T>(bytes[i] != 0);
    } else {
      host_storage.resize(numel());
      if (numel())
        backend().copy_to_host(host_storage.data(), dense.raw_data(), numel() * sizeof(D));
      for (int64_t i = 0; i < numel(); ++i) out[i] = static_cast<T>(host_storage[i]);
    }
  });
  return out;
}

template <typename T>
T Tensor::item() const {
  MOEGRAD_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape());
  return to_vector<T>()[0];
}

template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<int64_t> Tensor::to_vector() const;
template std::vector<bool> Tensor::to_vector() const;
template float Tensor::item() const;
template double Tensor::item() const;
template int64_t Tensor::item() const;
template bool Tensor::item() const;

namespace {
PrintOptions g_print_options;

// One element in its dtype's format: int64 as an integer (not a rounded double), bool as
// true/false.
void print_value(std::ostream& os, double v, DType dtype) {
  const int precision = g_print_options.precision > 0 ? g_print_options.precision : dtype == DType::f32 ? 6 : 10;
  if (dtype == DType::b8) os << (v != 0 ? "true" : "false");
  else if (dtype == DType::i64) os << static_cast<int64_t>(v);
  else os << std::setprecision(precision) << v;
}

// Prints one axis; with `summarise`, only `edge` items at each end of a longer axis.
void print_axis(std::ostream& os, const std::vector<double>& v, const Shape& shape, const Shape& strides,
                int64_t axis, int64_t base, DType dtype, int indent, bool summarise, int64_t edge) {
  const int64_t n = shape[axis];
  const bool elide = summarise && n > 2 * edge;
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (elide && i == edge) {
      os << (axis + 1 == static_cast<int64_t>(shape.size()) ? "..., " : "...,\n");
      if (axis + 1 != static_cast<int64_t>(shape.size())) os << std::string(indent + 1, ' ');
      i = n - edge;
    }
    int64_t at = base + i * strides[axis];
    if (axis + 1 == static_cast<int64_t>(shape.size())) {
      print_value(os, v[at], dtype);
      if (i + 1 < n) os << ", ";
    } else {
      print_axis(os, v, shape, strides, axis + 1, at, dtype, indent + 1, summarise, edge);
      if (i + 1 < n) os << ",\n" << std::string(indent + 1, ' ');
    }
  }
  os << ']';
}
}  // namespace

void set_print_options(const PrintOptions& options) {
  MOEGRAD_CHECK(options.threshold >= 0 && options.edgeitems >= 1 && options.precision >= 0 &&
                    options.precision <= 30,
                "set_print_options: need threshold >= 0, edgeitems >= 1 and precision in [0, 30], got ",
                options.threshold, ", ", options.edgeitems, ", ", options.precision);
  g_print_options = options;
}

PrintOptions print_options() { return g_print_options; }

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(" << t.dtype() << ", shape=";
  detail::append(os, t.shape());
  os << ", ";
  std::vector<double> values = t.to_vector<double>();
  const std::streamsize caller_precision = os.precision();  // restored: the caller's stream
  if (t.dim() == 0) {
    print_value(os, values[0], t.dtype());
  } else {
    os << '\n' << ' ';
    const bool summarise = t.numel() > g_print_options.threshold;
    print_axis(os, values, t.shape(), contiguous_strides(t.shape()), 0, 0, t.dtype(), 1, summarise,
               g_print_options.edgeitems);
  }
  os.precision(caller_precision);
  return os << ')';
}

}  // namespace moegrad
