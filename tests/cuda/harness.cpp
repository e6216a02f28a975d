#include "tests/cuda/harness.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <sstream>

#include "moegrad/core/cuda/cuda_backend.h"
#include "moegrad/core/storage.h"

namespace moegrad::cuda_test {

namespace {

int64_t extent(const Shape& shape, const Shape& strides) {
  int64_t hi = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return 0;
    hi += (shape[d] - 1) * strides[d];
  }
  return hi + 1;
}

// Every element offset of a view, row-major.
std::vector<int64_t> view_offsets(const View& v) {
  std::vector<int64_t> out;
  int64_t n = 1;
  for (int64_t s : v.shape) n *= s;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i, off = v.offset;
    for (int64_t d = static_cast<int64_t>(v.shape.size()) - 1; d >= 0; --d) {
      off += (rest % v.shape[d]) * v.strides[d];
      rest /= v.shape[d];
    }
    out.push_back(off);
  }
  return out;
}

template <typename T>
void put(std::vector<unsigned char>& image, int64_t i, T v) {
  std::memcpy(image.data() + i * sizeof(T), &v, sizeof(T));
}
template <typename T>
T get(const std::vector<unsigned char>& image, int64_t i) {
  T v;
  std::memcpy(&v, image.data() + i * sizeof(T), sizeof(T));
  return v;
}

std::vector<unsigned char> make_image(DType dtype, int64_t elems, Values values, int64_t bound, uint64_t seed) {
  std::vector<unsigned char> image(static_cast<size_t>(elems) * dtype_size(dtype), kSentinel);
  if (values == Values::sentinel) return image;
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal(0.0, 2.0);
  std::uniform_real_distribution<double> pos(0.1, 3.0);
  std::uniform_int_distribution<int64_t> small(-4, 4), one_four(1, 4), coin(0, 1);
  const double specials[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(), -0.0, 0.0, 1e30, -7.5, 20.0, -20.0};
  for (int64_t i = 0; i < elems; ++i) {
    double f = values == Values::positive ? pos(gen) : normal(gen);
    if (values == Values::special && i % 5 == 2) f = specials[(i / 5) % 9];
    int64_t k = small(gen);
    if (values == Values::positive) k = one_four(gen);
    if (values == Values::nonzero) k = one_four(gen) * (coin(gen) ? 1 : -1);
    if (values == Values::index) k = std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(bound, 1) - 1)(gen);
    switch (dtype) {
      case DType::f32: put<float>(image, i, static_cast<float>(f)); break;
      case DType::f64: put<double>(image, i, f); break;
      case DType::i64: put<int64_t>(image, i, k); break;
      case DType::b8: image[i] = static_cast<unsigned char>(coin(gen)); break;
    }
  }
  return image;
}

Tensor make_tensor(const std::shared_ptr<Storage>& storage, DType dtype, const View& v) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage;
  impl->shape = v.shape;
  impl->strides = v.strides;
  impl->offset = v.offset;
  impl->dtype = dtype;
  return Tensor(impl);
}

// Bytewise equality, reported as one bool (Catch would print both buffers).
bool same_bits(const std::vector<unsigned char>& a, const std::vector<unsigned char>& b) { return a == b; }

uint64_t seed_of(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

double as_double(DType dtype, const std::vector<unsigned char>& image, int64_t i) {
  switch (dtype) {
    case DType::f32: return get<float>(image, i);
    case DType::f64: return get<double>(image, i);
    case DType::i64: return static_cast<double>(get<int64_t>(image, i));
    case DType::b8: return image[i];
  }
  return 0;
}

// Distance in units in the last place, through the ordered integer image of the floats.
double ulp_distance(DType dtype, const std::vector<unsigned char>& a, const std::vector<unsigned char>& b, int64_t i) {
  auto ordered = [](int64_t bits, int64_t sign_bit) { return bits < 0 ? sign_bit - bits : bits; };
  if (dtype == DType::f32) {
    const int64_t x = get<int32_t>(a, i), y = get<int32_t>(b, i);
    return std::fabs(static_cast<double>(ordered(x, INT32_MIN) - ordered(y, INT32_MIN)));
  }
  const int64_t x = get<int64_t>(a, i), y = get<int64_t>(b, i);
  return std::fabs(static_cast<double>(ordered(x, INT64_MIN)) - static_cast<double>(ordered(y, INT64_MIN)));
}

}  // namespace

View with_strides(const Shape& shape, const Shape& strides) {
  View v{shape, strides, kGuard, 0};
  v.storage_elems = kGuard + extent(shape, strides) + kGuard;
  return v;
}
View contiguous(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    strides[d] = s;
    s *= std::max<int64_t>(shape[d], 1);
  }
  return with_strides(shape, strides);
}
View at_start(const Shape& shape) {
  View v = contiguous(shape);
  v.offset = 0;
  v.storage_elems -= kGuard;
  return v;
}
View transposed(const Shape& shape) {
  Shape swapped = shape;
  const size_t n = shape.size();
  std::swap(swapped[n - 1], swapped[n - 2]);
  View v = contiguous(swapped);
  v.shape = shape;
  std::swap(v.strides[n - 1], v.strides[n - 2]);
  return v;
}
View broadcast(const Shape& shape, int64_t dim) {
  Shape reduced = shape;
  reduced[dim] = 1;
  View v = contiguous(reduced);
  v.shape = shape;
  v.strides[dim] = 0;
  v.storage_elems = kGuard + extent(shape, v.strides) + kGuard;
  return v;
}
View sliced(const Shape& shape) {
  Shape wide = shape;
  wide.back() = 2 * shape.back() + 1;
  View v = contiguous(wide);
  v.shape = shape;
  v.strides.back() = 2;
  v.offset += 1;
  return v;
}

Check transcendental() {
  if (cuda_is_emulated()) return exact();
  return {Check::ulps, 8};
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
  os << ']';
  return os.str();
}

std::vector<DType> all_dtypes() { return {DType::f32, DType::f64, DType::i64, DType::b8}; }
std::vector<DType> float_dtypes() { return {DType::f32, DType::f64}; }
std::vector<DType> numeric_dtypes() { return {DType::f32, DType::f64, DType::i64}; }

int Case::input(DType dtype, const View& view, Values values, int64_t bound) {
  const uint64_t seed = seed_of(name_) + 7919 * operands_.size();
  operands_.push_back({dtype, view, values, true, make_image(dtype, view.storage_elems, values, bound, seed)});
  return static_cast<int>(operands_.size()) - 1;
}

int Case::none() {
  operands_.push_back({DType::f32, {}, Values::sentinel, false, {}});
  return static_cast<int>(operands_.size()) - 1;
}

void Case::run(const Op& op, Check check) {
  INFO("case: " << name_);
  Backend& cpu = cpu_backend();
  Backend& gpu = cuda_backend();
  // Runs op on `backend` from the initial images and returns the final images.
  auto execute = [&](Backend& backend) {
    std::vector<std::shared_ptr<Storage>> storages;
    std::vector<Tensor> tensors;
    for (const Operand& o : operands_) {
      if (!o.defined) {
        storages.push_back(nullptr);
        tensors.emplace_back();
        continue;
      }
      auto s = std::make_shared<Storage>(o.image.size(), backend);
      backend.copy_from_host(s->data(), o.image.data(), o.image.size());
      storages.push_back(s);
      tensors.push_back(make_tensor(s, o.dtype, o.view));
    }
    op(backend, tensors);
    std::vector<std::vector<unsigned char>> images;
    for (size_t i = 0; i < operands_.size(); ++i) {
      std::vector<unsigned char> img(operands_[i].image.size());
      if (storages[i]) backend.copy_to_host(img.data(), storages[i]->data(), img.size());
      images.push_back(std::move(img));
    }
    return images;
  };
  const auto want = execute(cpu);
  const auto got = execute(gpu);
  const auto again = execute(gpu);
  for (size_t i = 0; i < operands_.size(); ++i) {
    const Operand& o = operands_[i];
    if (!o.defined) continue;
    INFO("operand " << i << " (" << dtype_name(o.dtype) << ", shape " << shape_str(o.view.shape) << ", strides "
                    << shape_str(o.view.strides) << ", offset " << o.view.offset << ")");
    CHECK(same_bits(got[i], again[i]));  // run to run: the same bits
    if (o.values == Values::sentinel) {
      std::vector<bool> in_view(static_cast<size_t>(o.view.storage_elems), false);
      for (int64_t off : view_offsets(o.view)) in_view[off] = true;
      int64_t touched = 0;
      const size_t es = dtype_size(o.dtype);
      for (int64_t e = 0; e < o.view.storage_elems; ++e)
        if (!in_view[e])
          for (size_t b = 0; b < es; ++b) touched += got[i][e * es + b] != kSentinel;
      CHECK(touched == 0);  // nothing written outside the output's view
    }
    double worst = 0;
    int64_t worst_at = -1, differing = 0;
    for (int64_t e = 0; e < o.view.storage_elems; ++e) {
      const double g = as_double(o.dtype, got[i], e), w = as_double(o.dtype, want[i], e);
      const size_t es = dtype_size(o.dtype);
      const bool bits = std::memcmp(got[i].data() + e * es, want[i].data() + e * es, es) == 0;
      // NaN payloads and signs are not reproducible even between two compilations of one
      // kernel (the compiler may swap the operands of a commutative op), so any NaN
      // matches any NaN; every other value must match bit for bit.
      if (bits || (is_floating(o.dtype) && std::isnan(g) && std::isnan(w))) continue;
      double err = INFINITY;
      if (check.kind == Check::ulps && is_floating(o.dtype)) {
        // tol ulp, or tol machine epsilons absolute: where a formula cancels (1 + erf(x)
        // for x << 0 in gelu) an ulp of libm's result is many ulp of the op's.
        const double eps = o.dtype == DType::f32 ? 0x1p-23 : 0x1p-52;
        err = std::min(ulp_distance(o.dtype, got[i], want[i], e), std::fabs(g - w) / eps) / check.tol;
      }
      if (check.kind == Check::close && is_floating(o.dtype))
        err = std::fabs(g - w) / (check.tol * (1 + std::fabs(w)));
      if (std::isnan(err)) err = INFINITY;
      if (err > 1.0) ++differing;
      if (worst_at < 0 || err > worst) {
        worst = err;
        worst_at = e;
      }
    }
    INFO("elements out of tolerance: " << differing << "; worst: element " << worst_at << ", cuda "
                                       << (worst_at >= 0 ? as_double(o.dtype, got[i], worst_at) : 0) << ", cpu "
                                       << (worst_at >= 0 ? as_double(o.dtype, want[i], worst_at) : 0)
                                       << ", error / tolerance " << worst);
    CHECK(differing == 0);
  }
}

}  // namespace moegrad::cuda_test
