// gather, scatter_add (duplicate indices: added in index order, bitwise the CPU's) and
// matmul (transposed operands, broadcast and non-uniform batches, accumulate).
#include <catch2/catch.hpp>

#include "tests/cuda/harness.h"

namespace moegrad::cuda_test {

TEST_CASE("gather: every dtype, both axes, index and source layouts", "[cuda][gather]") {
  const Shape xs = {37, 29};
  for (DType t : all_dtypes())
    for (int64_t axis : {0, 1}) {
      const Shape is = axis == 0 ? Shape{50, 29} : Shape{37, 41};
      const std::pair<const char*, View> index_views[] = {
          {"contiguous", contiguous(is)}, {"transposed", transposed(is)},
          {"constant along rows", broadcast(is, 1)}, {"empty", contiguous({0, 29})}};
      for (const View& xv : {contiguous(xs), transposed(xs), sliced(xs)})
        for (const auto& [iname, iv] : index_views) {
          if (iv.shape[0] == 0 && axis == 1) continue;
          Case c("gather " + std::string(dtype_name(t)) + " axis " + std::to_string(axis) + " index " + iname +
                 " x strides " + shape_str(xv.strides));
          const int x = c.input(t, xv);
          const int index = c.input(DType::i64, iv, Values::index, xs[axis]);
          const int out = c.output(t, contiguous(iv.shape));
          c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.gather(ts[x], axis, ts[index], ts[out]); });
        }
    }
}

TEST_CASE("scatter_add: numeric dtypes, duplicate indices, both axes", "[cuda][scatter_add]") {
  const Shape os = {11, 29};
  for (DType t : numeric_dtypes())
    for (int64_t axis : {0, 1}) {
      // Many more source rows than destinations: every destination gets several additions.
      const Shape ss = axis == 0 ? Shape{60, 29} : Shape{11, 70};
      for (const View& sv : {contiguous(ss), transposed(ss), sliced(ss)})
        for (const View& iv : {contiguous(ss), broadcast(ss, 1 - axis), transposed(ss)}) {
          Case c("scatter_add " + std::string(dtype_name(t)) + " axis " + std::to_string(axis) + " src " +
                 shape_str(sv.strides) + " index " + shape_str(iv.strides));
          const int out = c.input(t, contiguous(os));
          const int index = c.input(DType::i64, iv, Values::index, os[axis]);
          const int src = c.input(t, sv);
          c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.scatter_add(ts[out], axis, ts[index], ts[src]); });
        }
    }
}

TEST_CASE("matmul: layouts, batches and accumulate against OpenBLAS", "[cuda][matmul]") {
  const int64_t m = 19, k = 23, n = 17;
  struct Operand {
    const char* name;
    View view;
  };
  for (DType t : float_dtypes()) {
    const double rtol = t == DType::f32 ? 2e-5 : 1e-12;
    // 2-d: every combination of plain, transposed and (copied) non-unit-stride operands.
    const Operand as[] = {{"a", contiguous({m, k})}, {"a^T", transposed({m, k})}, {"a sliced", sliced({m, k})}};
    const Operand bs[] = {{"b", contiguous({k, n})}, {"b^T", transposed({k, n})}, {"b sliced", sliced({k, n})}};
    for (const Operand& a : as)
      for (const Operand& b : bs)
        for (bool acc : {false, true}) {
          Case c("matmul " + std::string(dtype_name(t)) + " " + a.name + " " + b.name + (acc ? " accumulate" : ""));
          const int ia = c.input(t, a.view), ib = c.input(t, b.view);
          const int out = acc ? c.input(t, contiguous({m, n})) : c.output(t, contiguous({m, n}));
          c.run([&](Backend& be, const std::vector<Tensor>& ts) { be.matmul(ts[ia], ts[ib], ts[out], acc); },
                close(rtol));
        }
    // Batched: uniform strides, a broadcast batch (stride 0), and batch dims no single
    // stride describes (a (2, 3) batch cut from a (2, 4) one: the pointer-array path).
    const Shape a3 = {2, 3, m, k}, b3 = {2, 3, k, n};
    const View cut_a = with_strides(a3, {4 * m * k, m * k, 1, m});  // also transposed
    const std::pair<const char*, std::pair<View, View>> batches[] = {
        {"uniform", {contiguous(a3), contiguous(b3)}},
        {"broadcast a", {broadcast(a3, 0), transposed(b3)}},
        {"broadcast b over both", {contiguous(a3), with_strides(b3, {0, 0, n, 1})}},
        {"non-uniform", {cut_a, contiguous(b3)}},
        {"non-uniform b", {contiguous(a3), with_strides(b3, {5 * k * n, k * n, n, 1})}},
    };
    for (const auto& [name, ab] : batches)
      for (bool acc : {false, true}) {
        Case c("batched matmul " + std::string(dtype_name(t)) + " " + name + (acc ? " accumulate" : ""));
        const int ia = c.input(t, ab.first), ib = c.input(t, ab.second);
        const int out = acc ? c.input(t, contiguous({2, 3, m, n})) : c.output(t, contiguous({2, 3, m, n}));
        c.run([&](Backend& be, const std::vector<Tensor>& ts) { be.matmul(ts[ia], ts[ib], ts[out], acc); },
              close(rtol));
      }
    // Degenerate sizes: k = 0 fills zeros (or leaves the bias), m = 0 and n = 1 vectors.
    for (const auto& [am, ak, an] : {std::tuple{m, int64_t{0}, n}, std::tuple{int64_t{0}, k, n},
                                     std::tuple{m, k, int64_t{1}}, std::tuple{int64_t{1}, k, n}})
      for (bool acc : {false, true}) {
        Case c("matmul " + std::string(dtype_name(t)) + " sizes " + shape_str({am, ak, an}) + (acc ? " acc" : ""));
        const int ia = c.input(t, contiguous({am, ak})), ib = c.input(t, transposed({ak, an}));
        const int out = acc ? c.input(t, contiguous({am, an})) : c.output(t, contiguous({am, an}));
        c.run([&](Backend& be, const std::vector<Tensor>& ts) { be.matmul(ts[ia], ts[ib], ts[out], acc); },
              close(rtol));
      }
  }
}

}  // namespace moegrad::cuda_test
