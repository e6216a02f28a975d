#pragma once
// An explicit, seeded random number generator. Every random draw in moegrad takes one
// by reference: there is no global RNG, so a seed fixes every number on every machine.
//
// xoshiro256** (Blackman & Vigna) seeded through splitmix64: integer-only state updates,
// so the bit stream does not depend on the platform. Draws are made on the host and
// copied to the tensor's backend.
#include <array>
#include <cstdint>

#include "moegrad/core/backend.h"
#include "moegrad/core/tensor.h"

namespace moegrad {

class Generator {
 public:
  using State = std::array<uint64_t, 4>;

  explicit Generator(uint64_t seed = 0) { manual_seed(seed); }
  void manual_seed(uint64_t seed);

  uint64_t next_u64();
  // Uniform in [0, 1) with every representable step of the type equally likely.
  double next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  float next_float() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }
  // A pair of independent standard normals (Box-Muller).
  std::array<double, 2> next_normal_pair();

  // The whole state, for checkpoints: restoring it replays the same stream.
  const State& state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

 private:
  State s_{};
};

// U[0, 1), U[low, high) and N(0, 1) draws of the given shape.
Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::f32,
            Backend& backend = cpu_backend());
Tensor uniform(const Shape& shape, double low, double high, Generator& gen,
               DType dtype = DType::f32, Backend& backend = cpu_backend());
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::f32,
             Backend& backend = cpu_backend());
// N(mean, std^2).
Tensor normal(const Shape& shape, double mean, double std, Generator& gen,
              DType dtype = DType::f32, Backend& backend = cpu_backend());

}  // namespace moegrad
