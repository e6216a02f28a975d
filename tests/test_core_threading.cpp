// The CPU kernels split large loops over set_num_threads threads. Splitting must not change
// a single bit: every kernel here gives the same result on 1, 2 and 3 threads, and the
// sums match an independent double-precision loop.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "moegrad/core/core.h"
#include "moegrad/core/cpu/strided_loop.h"
#include "moegrad/core/threading.h"

using namespace moegrad;

namespace {

// Restores one thread whatever the test does, so later tests run as they always did.
struct ThreadsGuard {
  ~ThreadsGuard() { set_num_threads(1); }
};

// Every tensor below has at least this many elements, so the split paths really run.
constexpr int64_t kSplit = 2 * cpu::kParallelGrain;

// The results of `compute` on 1 thread, compared bit for bit with those on 2 and 3.
void require_thread_invariant(const std::string& what, const std::function<std::vector<Tensor>()>& compute) {
  ThreadsGuard guard;
  set_num_threads(1);
  const std::vector<Tensor> serial = compute();
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    const std::vector<Tensor> split = compute();
    REQUIRE(split.size() == serial.size());
    for (size_t i = 0; i < serial.size(); ++i) {
      INFO(what << ", result " << i << ", " << threads << " threads");
      REQUIRE(split[i].shape() == serial[i].shape());
      CHECK(split[i].to_vector<double>() == serial[i].to_vector<double>());
    }
  }
}

}  // namespace

TEST_CASE("elementwise kernels give the same bits on 1, 2 and 3 threads", "[core][threading]") {
  Generator gen(41);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor a = randn({2048, 256}, gen, dt), b = randn({2048, 256}, gen, dt), row = randn({256}, gen, dt);
    Tensor at = core::transpose(randn({256, 2048}, gen, dt), 0, 1);  // (2048, 256), not contiguous
    Tensor flat = randn({kSplit + 1}, gen, dt);                      // one long row, odd length
    REQUIRE(a.numel() >= kSplit);
    require_thread_invariant(str_cat("elementwise ", dtype_name(dt)), [&] {
      Tensor view = zeros({2048, 512}, dt);
      core::copy_(core::slice(view, 1, 0, 512, 2), at);  // assignment into a strided view
      return std::vector<Tensor>{
          core::binary(BinaryOp::add, a, b),
          core::binary(BinaryOp::mul, a, core::expand(row, {2048, 256})),
          core::binary(BinaryOp::sub, at, a),
          core::binary(BinaryOp::gt, a, b),
          core::unary(UnaryOp::exp, at),
          core::unary(UnaryOp::tanh, flat),
          core::where(core::binary(BinaryOp::gt, a, b), a, at),
          core::contiguous(at),
          full({2048, 256}, 0.25, dt),
          view,
      };
    });
  }
}

TEST_CASE("sums give the same bits on 1, 2 and 3 threads and match a double loop", "[core][threading]") {
  Generator gen(42);
  // Few long columns, a block of columns, many columns, few long rows, one long row.
  const std::vector<Shape> shapes{{kSplit, 3}, {8000, 40}, {300, 4000}, {3, 200000}, {2 * kSplit + 1}};
  for (const Shape& shape : shapes) {
    Tensor x = randn(shape, gen, DType::f32);
    REQUIRE(x.numel() >= kSplit);
    const int64_t rows = shape[0], cols = shape.size() > 1 ? shape[1] : 1;
    require_thread_invariant("sum of shape " + str_cat(shape), [&] {
      std::vector<Tensor> out{core::sum(x)};
      if (shape.size() > 1) {
        out.push_back(core::sum(x, {0}));
        out.push_back(core::sum(x, {1}));
      }
      return out;
    });
    // Against a plain double loop: float32 sums are the rounded double sums.
    const std::vector<double> v = x.to_vector<double>();
    std::vector<double> col(cols, 0.0);
    double total = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        col[c] += v[r * cols + c];
        total += v[r * cols + c];
      }
    ThreadsGuard guard;
    set_num_threads(2);
    CHECK(core::sum(x).item<double>() == Approx(total).epsilon(1e-6));
    if (shape.size() > 1) {
      const std::vector<double> got = core::sum(x, {0}).to_vector<double>();
      for (int64_t c = 0; c < cols; ++c) CHECK(got[c] == static_cast<double>(static_cast<float>(col[c])));
    }
  }
}

TEST_CASE("GEGLU kernels and their mult_bias gradient give the same bits on 1, 2 and 3 threads",
          "[core][threading]") {
  Generator gen(43);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = randn({4096, 128}, gen, dt), mb = randn({64}, gen, dt), g = randn({4096, 64}, gen, dt);
    require_thread_invariant(str_cat("geglu ", dtype_name(dt)), [&] {
      auto [out, cdf] = core::geglu(x, mb);
      auto [dx, dmb] = core::geglu_backward(x, cdf, mb, g, true);
      return std::vector<Tensor>{out, cdf, dx, dmb};
    });
  }
}

TEST_CASE("parallel_tasks runs every task once, single-threaded, and passes errors on", "[core][threading]") {
  ThreadsGuard guard;
  set_num_threads(2);
  std::vector<int> runs(7, 0), inner_threads(7, 0);
  parallel_tasks(7, [&](int64_t t) {
    ++runs[t];
    inner_threads[t] = num_threads();
  });
  CHECK(runs == std::vector<int>(7, 1));
  CHECK(inner_threads == std::vector<int>(7, 1));
  CHECK(num_threads() == 2);
  CHECK_THROWS_WITH(parallel_tasks(4, [](int64_t t) {
                      if (t == 3) throw Error("task 3 failed");
                    }),
                    Catch::Contains("task 3 failed"));
}
