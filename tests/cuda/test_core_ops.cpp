// The seam end to end: tensors created on the CUDA backend, core ops (which allocate
// their results on the input's backend), views, and to_vector reading back through
// copy_to_host, against the same composition on the CPU.
#include <catch2/catch.hpp>

#include "moegrad/core/creation.h"
#include "moegrad/core/cuda/cuda_backend.h"
#include "moegrad/core/elementwise.h"
#include "moegrad/core/indexing.h"
#include "moegrad/core/linalg.h"
#include "moegrad/core/reduction.h"
#include "moegrad/core/views.h"

namespace moegrad::cuda_test {

namespace {

std::vector<double> values(int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>((i * 37) % 23) / 7.0 - 1.5;
  return v;
}

// softmax(x^T w) summed over rows, with a broadcast add and a narrowed view on the way.
Tensor composite(Backend& backend, DType dtype) {
  Tensor x = from_vector(values(6 * 5), {6, 5}, dtype, backend);
  Tensor w = from_vector(values(6 * 4), {6, 4}, dtype, backend);
  Tensor bias = from_vector(values(4), {1, 4}, dtype, backend);
  Tensor h = core::matmul(core::transpose(x, 0, 1), w);           // (5, 4)
  h = core::binary(BinaryOp::add, h, core::expand(bias, {5, 4}));  // broadcast view
  Tensor p = core::softmax(core::narrow(h, 1, 1, 3), 1);           // offset, strided view
  return core::sum(p, {0});
}

}  // namespace

TEST_CASE("core ops on CUDA tensors match the same ops on the CPU", "[cuda][core]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const std::vector<double> cpu = composite(cpu_backend(), dtype).to_vector<double>();
    Tensor on_gpu = composite(cuda_backend(), dtype);
    CHECK(&on_gpu.backend() == &cuda_backend());
    const std::vector<double> gpu = on_gpu.to_vector<double>();
    REQUIRE(gpu.size() == cpu.size());
    for (size_t i = 0; i < cpu.size(); ++i) CHECK(gpu[i] == Approx(cpu[i]).epsilon(dtype == DType::f32 ? 1e-5 : 1e-12));
  }
}

TEST_CASE("to_vector of a strided CUDA view reads the view's elements", "[cuda][core]") {
  Tensor x = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5}, {2, 3}, DType::i64, cuda_backend());
  CHECK(core::transpose(x, 0, 1).to_vector<int64_t>() == std::vector<int64_t>{0, 3, 1, 4, 2, 5});
  CHECK(core::narrow(x, 1, 1, 2).to_vector<int64_t>() == std::vector<int64_t>{1, 2, 4, 5});
  // index_select checks its indices' bounds on the device (a max/min reduction) first.
  Tensor idx = from_vector(std::vector<int64_t>{1, 0, 1}, {3}, DType::i64, cuda_backend());
  CHECK(core::index_select(x, 0, idx).to_vector<int64_t>() == std::vector<int64_t>{3, 4, 5, 0, 1, 2, 3, 4, 5});
  Tensor bad = from_vector(std::vector<int64_t>{2}, {1}, DType::i64, cuda_backend());
  CHECK_THROWS(core::index_select(x, 0, bad));
}

}  // namespace moegrad::cuda_test
