// The device around the kernels: the allocator's cache and statistics, the launch grid
// cap, and errors that name the op.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "moegrad/core/creation.h"
#include "moegrad/core/cuda/cuda_backend.h"
#include "tests/cuda/harness.h"

namespace moegrad::cuda_test {

TEST_CASE("allocator: freed blocks are cached and reused; empty_cache returns them", "[cuda][memory]") {
  Backend& gpu = cuda_backend();
  if (const char* v = std::getenv("MOEGRAD_CUDA_NO_CACHE"); v && std::string(v) == "1") {
    // Without the cache every free goes back to the driver.
    const CudaMemoryStats before = cuda_memory_stats();
    gpu.deallocate(gpu.allocate(1000), 1000);
    gpu.deallocate(gpu.allocate(1000), 1000);
    CHECK(cuda_memory_stats().device_allocations == before.device_allocations + 2);
    CHECK(cuda_memory_stats().cached == 0);
    return;
  }
  cuda_empty_cache();
  const CudaMemoryStats before = cuda_memory_stats();
  void* p = gpu.allocate(1000);
  const CudaMemoryStats held = cuda_memory_stats();
  CHECK(held.allocated >= before.allocated + 1000);
  CHECK(held.peak_allocated >= held.allocated);
  gpu.deallocate(p, 1000);
  const CudaMemoryStats freed = cuda_memory_stats();
  CHECK(freed.allocated == before.allocated);
  CHECK(freed.cached >= 1000);
  void* q = gpu.allocate(1000);  // the same size class: no new device allocation
  CHECK(cuda_memory_stats().device_allocations == held.device_allocations);
  CHECK(q == p);
  gpu.deallocate(q, 1000);
  cuda_empty_cache();
  CHECK(cuda_memory_stats().cached == 0);
}

TEST_CASE("launch: a tensor larger than the default grid is covered exactly once", "[cuda][launch]") {
  cuda_set_max_grid_blocks(0, 4096);
  // 4096 blocks of 256 threads = 1048576 elements; three more need a second stride.
  Case c("fill beyond one default grid");
  const int out = c.output(DType::f32, contiguous({4096 * 256 + 3}));
  c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.fill(ts[out], 1.5); });
  Case d("copy beyond one default grid");
  const int src = d.input(DType::f64, transposed({1025, 1025}));
  const int dst = d.output(DType::f32, contiguous({1025, 1025}));
  d.run([&](Backend& b, const std::vector<Tensor>& ts) { b.copy(ts[src], ts[dst]); });
  cuda_set_max_grid_blocks(0, 2);
}

TEST_CASE("errors name the op", "[cuda][errors]") {
  // Eleven dims that no merge joins: more than the kernels' fixed dim count.
  Shape shape(11, 2), strides(11);
  for (int d = 0; d < 11; ++d) strides[d] = int64_t{1} << (2 * (10 - d));  // every dim a gap
  Tensor x = empty({int64_t{1} << 22}, DType::f32, cuda_backend());
  auto impl = std::make_shared<TensorImpl>(*x.impl_ptr());
  impl->shape = shape;
  impl->strides = strides;
  Tensor view(impl);
  Tensor out = empty(shape, DType::f32, cuda_backend());
  CHECK_THROWS_WITH(cuda_backend().copy(view, out), Catch::Contains("copy") && Catch::Contains("at most 10"));
  CHECK_THROWS_WITH(cuda_backend(3), Catch::Contains("cuda_backend"));
}

TEST_CASE("the backend reports its device", "[cuda]") {
  CHECK(cuda_backend().device() == Device::cuda(0));
  CHECK(cuda_device_count() >= 1);
  CHECK(cuda_unavailable_reason().empty());
}

}  // namespace moegrad::cuda_test
