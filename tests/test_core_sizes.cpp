// Sizes from configs and files reach shape products, byte counts and view arithmetic:
// an absurd one must be an Error naming the op and the shape, never a signed overflow
// (which wrapped into small or negative sizes: heap overflows, SIGSEGV, SIGFPE).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/core/memory_budget.h"

using namespace moegrad;

namespace {
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t k2_32 = int64_t{1} << 32, k2_62 = int64_t{1} << 62;
}  // namespace

TEST_CASE("a shape whose element or byte count passes 2^63 is an error naming it", "[core]") {
  CHECK_THROWS_WITH(empty({k2_32, k2_32}), Catch::Contains("[4294967296, 4294967296]") &&
                                               Catch::Contains("64-bit"));
  CHECK_THROWS_WITH(zeros({k2_62, 4}), Catch::Contains("empty") && Catch::Contains("64-bit"));
  // zero-size dims do not hide the overflow of the others (their strides would overflow)
  CHECK_THROWS_WITH(empty({0, k2_62, 4}), Catch::Contains("64-bit"));
  // the element count fits, the byte count does not
  CHECK_THROWS_WITH(empty({k2_62}, DType::f32), Catch::Contains("byte count") && Catch::Contains("overflows"));
  CHECK_THROWS_WITH(empty({-1, 3}), Catch::Contains("negative size in shape [-1, 3]"));
  CHECK_THROWS_WITH(shape_numel({kMax, 2}, "op"), Catch::Contains("op: shape"));
  CHECK_THROWS(contiguous_strides({kMax, 2}));
}

TEST_CASE("a tensor too large for memory is an OutOfMemoryError naming its shape and bytes", "[core]") {
  // 2^60 bytes fit the count, never the machine: aligned_alloc refuses at once.
  try {
    empty({int64_t{1} << 58}, DType::f32);
    FAIL("allocated 2^60 bytes");
  } catch (const OutOfMemoryError& e) {
    CHECK_THAT(e.what(), Catch::Contains("shape [288230376151711744]") &&
                             Catch::Contains("1152921504606846976 bytes"));
  }
}

TEST_CASE("views, joins and slices check their size arithmetic", "[core]") {
  Tensor one = ones({1});
  CHECK_THROWS_WITH(core::expand(one, {k2_32, k2_32}), Catch::Contains("64-bit"));
  CHECK_THROWS_WITH(expand(one, {k2_32, k2_32}), Catch::Contains("64-bit"));
  Tensor x = ones({4});
  CHECK_THROWS_WITH(core::reshape(x, {k2_32, k2_32, 0}), Catch::Contains("reshape"));
  CHECK_THROWS_WITH(core::reshape(x, {-1, k2_62, 4}), Catch::Contains("reshape"));
  CHECK_THROWS_WITH(core::view(x, {k2_32, k2_32, -1}), Catch::Contains("view"));
  Tensor wide = core::expand(one, {kMax});
  CHECK_THROWS_WITH(core::cat({wide, wide}, 0), Catch::Contains("cat") && Catch::Contains("overflows"));
  CHECK_THROWS_WITH(core::split(x, {kMax, kMax}, 0), Catch::Contains("split"));
  CHECK_THROWS_WITH(core::narrow(x, 0, 2, kMax), Catch::Contains("narrow"));
  CHECK(core::slice(x, 0, 0, 4, kMax).shape() == Shape{1});
  CHECK(core::slice(x, 0, 1, 4, kMax - 1).shape() == Shape{1});
  CHECK(core::chunk(x, kMax, 0).size() == 4);
  CHECK(core::split(x, kMax, 0).size() == 1);
}

TEST_CASE("a zero-size shape is refused when its other sizes overflow, so sub-products of shapes fit", "[core]") {
  // mean's count and unsqueeze's stride multiply parts of a shape unchecked, relying on this.
  CHECK_THROWS_WITH(zeros({0, k2_32, k2_32}), Catch::Contains("64-bit"));
  Tensor empty_wide = zeros({0, k2_32 / 2, k2_32 / 2});
  Tensor m = core::mean(empty_wide, {1, 2});
  CHECK(m.shape() == Shape{0});
  CHECK(core::unsqueeze(empty_wide, 1).strides()[1] == empty_wide.strides()[0]);
}

TEST_CASE("arange and one_hot refuse counts that cannot be sizes", "[core]") {
  CHECK_THROWS_WITH(arange(0.0, INFINITY), Catch::Contains("arange") && Catch::Contains("finite"));
  CHECK_THROWS_WITH(arange(0.0, NAN), Catch::Contains("finite"));
  CHECK_THROWS_WITH(arange(0.0, 1e30), Catch::Contains("arange"));
  Tensor idx = from_vector(std::vector<int64_t>{0, 1, 2, 3}, {4}, DType::i64);
  CHECK_THROWS_WITH(one_hot(idx, k2_62), Catch::Contains("one_hot"));
}
