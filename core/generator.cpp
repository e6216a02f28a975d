#include "moegrad/core/generator.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "moegrad/core/creation.h"

namespace moegrad {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

template <typename T>
Tensor host_to_tensor(const std::vector<T>& host, const Shape& shape, Backend& backend) {
  Tensor t = empty(shape, dtype_of<T>::value, backend);
  backend.copy_from_host(t.raw_data(), host.data(), host.size() * sizeof(T));
  return t;
}
}  // namespace

void Generator::manual_seed(uint64_t seed) {
  uint64_t x = seed;
  for (auto& word : s_) word = splitmix64(x);
}

uint64_t Generator::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::array<double, 2> Generator::next_normal_pair() {
  // 1 - u lies in (0, 1], so the log is finite.
  double u1 = 1.0 - next_double();
  double u2 = next_double();
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * std::numbers::pi * u2;
  return {r * std::cos(theta), r * std::sin(theta)};
}

Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype,
               Backend& backend) {
  MOEGRAD_CHECK(low <= high, "uniform: low ", low, " is above high ", high);
  const int64_t n = shape_numel(shape);
  return dispatch_float(dtype, "uniform", [&]<typename T>() {
    std::vector<T> host(n);
    // low + (high - low) * u rounds up to high itself when u is near 1 and the spacing of
    // T near high is coarser than (high - low) * 2^-24 or 2^-53 ([1, 2) in float32, say);
    // the largest T below high keeps the interval half-open.
    const T top = static_cast<T>(high);
    const T below_top = std::max(std::nextafter(top, static_cast<T>(low)), static_cast<T>(low));
    for (auto& v : host) {
      T u = std::is_same_v<T, float> ? static_cast<T>(gen.next_float())
                                     : static_cast<T>(gen.next_double());
      v = static_cast<T>(low + (high - low) * u);
      if (v >= top && low < high) v = below_top;
    }
    return host_to_tensor(host, shape, backend);
  });
}

Tensor rand(const Shape& shape, Generator& gen, DType dtype, Backend& backend) {
  return uniform(shape, 0.0, 1.0, gen, dtype, backend);
}

Tensor normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype,
              Backend& backend) {
  const int64_t n = shape_numel(shape);
  return dispatch_float(dtype, "normal", [&]<typename T>() {
    std::vector<T> host(n);
    for (int64_t i = 0; i < n; i += 2) {
      auto z = gen.next_normal_pair();
      host[i] = static_cast<T>(mean + std * z[0]);
      if (i + 1 < n) host[i + 1] = static_cast<T>(mean + std * z[1]);
    }
    return host_to_tensor(host, shape, backend);
  });
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype, Backend& backend) {
  return normal(shape, 0.0, 1.0, gen, dtype, backend);
}

}  // namespace moegrad
