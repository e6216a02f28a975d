// reduce, softmax, cumsum and topk: CUDA against the CPU, bitwise, including the CPU's
// contiguous fast paths (blocked column sums, whole-tensor max/min) and NaN handling.
#include <catch2/catch.hpp>

#include "moegrad/core/creation.h"
#include "moegrad/core/cuda/cuda_backend.h"
#include "tests/cuda/harness.h"

namespace moegrad::cuda_test {

namespace {

Shape keep_dims(Shape s, const Axes& axes) {
  for (int64_t a : axes) s[a] = 1;
  return s;
}

struct NamedView {
  std::string name;
  View view;
};

std::vector<NamedView> views_3d() {
  const Shape s = {5, 7, 33};
  return {{"contiguous", contiguous(s)}, {"transposed", transposed(s)}, {"broadcast", broadcast(s, 1)},
          {"sliced", sliced(s)}, {"empty", contiguous({5, 0, 33})}};
}

}  // namespace

TEST_CASE("reduce: every op and dtype over sets of axes and layouts", "[cuda][reduce]") {
  const std::pair<ReduceOp, const char*> ops[] = {{ReduceOp::sum, "sum"},       {ReduceOp::max, "max"},
                                                  {ReduceOp::min, "min"},       {ReduceOp::argmax, "argmax"},
                                                  {ReduceOp::argmin, "argmin"}, {ReduceOp::logsumexp, "logsumexp"}};
  const Axes axes_sets[] = {{0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {0, 1, 2}};
  for (const auto& [op, name] : ops)
    for (DType t : all_dtypes()) {
      const bool is_bool = t == DType::b8;
      if (is_bool && op != ReduceOp::sum) continue;
      if (op == ReduceOp::logsumexp && !is_floating(t)) continue;
      for (const NamedView& v : views_3d())
        for (const Axes& axes : axes_sets)
          for (Values values : {Values::normal, Values::special}) {
            if (values == Values::special && !is_floating(t)) continue;
            const DType out_t = op == ReduceOp::argmax || op == ReduceOp::argmin ? DType::i64
                                : op == ReduceOp::sum && !is_floating(t)         ? DType::i64
                                                                                 : t;
            Case c(std::string(name) + " " + std::string(dtype_name(t)) + " " + v.name + " axes " + shape_str(axes) +
                   (values == Values::special ? " special" : ""));
            const int x = c.input(t, v.view, values);
            const Shape out_shape = keep_dims(v.view.shape, axes);
            const int out = c.output(out_t, contiguous(out_shape));
            c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.reduce(op, ts[x], axes, ts[out]); },
                  op == ReduceOp::logsumexp ? transcendental() : exact());
          }
    }
}

TEST_CASE("reduce: the CPU's contiguous fast paths, bitwise", "[cuda][reduce]") {
  // Long columns: summed by blocks of 4096 rows (one column: 8 interleaved lanes).
  for (DType t : {DType::f32, DType::f64, DType::i64, DType::b8})
    for (const Shape& s : {Shape{3 * 4096 + 77}, Shape{2 * 4096 + 5, 3}, Shape{4097, 2, 2}, Shape{4096, 2}}) {
      const DType out_t = is_floating(t) ? t : DType::i64;
      Axes axes = {0};
      if (s.size() == 3) axes = {0, 1};
      Case c("blocked sum " + std::string(dtype_name(t)) + " " + shape_str(s));
      const int x = c.input(t, contiguous(s));
      const int out = c.output(out_t, contiguous(keep_dims(s, axes)));
      c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.reduce(ReduceOp::sum, ts[x], axes, ts[out]); });
    }
  // Whole-tensor max and min of a contiguous tensor (canonical NaN, first of equal values).
  for (DType t : numeric_dtypes())
    for (ReduceOp op : {ReduceOp::max, ReduceOp::min})
      for (Values values : {Values::normal, Values::special})
        for (int64_t n : {1, 3000, 3 * 4096 + 11}) {  // 4096-element chunks: one, or several
        Case c("whole max/min " + std::string(dtype_name(t)) + " n " + std::to_string(n));
        const int x = c.input(t, contiguous({n}), values);
        const int out = c.output(t, at_start({1}));
        c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.reduce(op, ts[x], {0}, ts[out]); });
      }
}

TEST_CASE("reduce: a whole-tensor max lands at its output view's offset", "[cuda][reduce]") {
  // The CPU's contiguous fast path once stored at the storage start, ignoring out.offset().
  for (Backend* backend : {&cpu_backend(), &cuda_backend()}) {
    CAPTURE(backend->device().str());
    Tensor x = from_vector(std::vector<float>{1, 7, 3}, {3}, DType::f32, *backend);
    Tensor buf = full({3}, -1.0, DType::f32, *backend);
    auto impl = std::make_shared<TensorImpl>(*buf.impl_ptr());
    impl->shape = {1};
    impl->strides = {1};
    impl->offset = 1;
    backend->reduce(ReduceOp::max, x, {0}, Tensor(impl));
    std::vector<float> host(3);
    backend->copy_to_host(host.data(), buf.storage()->data(), sizeof(float) * 3);
    CHECK(host == std::vector<float>{-1, 7, -1});
  }
}

TEST_CASE("softmax and log_softmax: both float dtypes, every axis and layout", "[cuda][softmax]") {
  for (DType t : float_dtypes())
    for (const NamedView& v : views_3d())
      for (int64_t axis : {0, 1, 2})
        for (bool log : {false, true})
          for (Values values : {Values::normal, Values::special}) {
            Case c(std::string(log ? "log_softmax " : "softmax ") + std::string(dtype_name(t)) + " " + v.name +
                   " axis " + std::to_string(axis));
            const int x = c.input(t, v.view, values);
            const int out = c.output(t, contiguous(v.view.shape));
            c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.softmax(ts[x], axis, log, ts[out]); },
                  transcendental());
          }
}

TEST_CASE("cumsum: numeric dtypes, inclusive and exclusive, every axis and layout", "[cuda][cumsum]") {
  for (DType t : numeric_dtypes())
    for (const NamedView& v : views_3d())
      for (int64_t axis : {0, 1, 2})
        for (bool exclusive : {false, true}) {
          Case c(std::string("cumsum ") + std::string(dtype_name(t)) + " " + v.name + " axis " + std::to_string(axis) +
                 (exclusive ? " exclusive" : ""));
          const int x = c.input(t, v.view);
          const int out = c.output(t, contiguous(v.view.shape));
          c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.cumsum(ts[x], axis, exclusive, ts[out]); });
        }
}

TEST_CASE("topk: numeric dtypes, ties to the lower index, NaN first", "[cuda][topk]") {
  for (DType t : numeric_dtypes())
    for (const NamedView& v : views_3d())
      for (int64_t axis : {0, 2})
        for (int64_t k : {int64_t{1}, int64_t{3}, int64_t{-1}})
          for (Values values : {Values::normal, Values::special}) {
            if (values == Values::special && !is_floating(t)) continue;
            const int64_t n = v.view.shape[axis];
            const int64_t kk = k < 0 ? n : std::min(k, n);
            Shape out_shape = v.view.shape;
            out_shape[axis] = kk;
            Case c("topk " + std::string(dtype_name(t)) + " " + v.name + " axis " + std::to_string(axis) + " k " +
                   std::to_string(kk));
            // Integers in [-4, 4] along 33 or 5 elements: many ties.
            const int x = c.input(t, v.view, values);
            const int vals = c.output(t, contiguous(out_shape));
            const int idx = c.output(DType::i64, transposed(out_shape));
            c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.topk(ts[x], kk, axis, ts[vals], ts[idx]); });
          }
}

// Lines of up to 256 elements take a warp each, longer ones a thread each: both sides of
// that limit, along a contiguous and a strided axis.
TEST_CASE("softmax and topk: lines at and past the warp-per-line limit", "[cuda][softmax][topk]") {
  for (DType t : float_dtypes())
    for (int64_t n : {int64_t{1}, int64_t{32}, int64_t{255}, int64_t{256}, int64_t{257}, int64_t{300}})
      for (const auto& [name, view] : {std::pair<const char*, View>{"contiguous", contiguous({3, n})},
                                       std::pair<const char*, View>{"transposed", transposed({3, n})}})
        for (Values values : {Values::normal, Values::special}) {
          const std::string where = std::string(dtype_name(t)) + " " + name + " n " + std::to_string(n);
          Case s("softmax " + where);
          const int x = s.input(t, view, values);
          const int out = s.output(t, contiguous({3, n}));
          s.run([&](Backend& b, const std::vector<Tensor>& ts) { b.softmax(ts[x], 1, false, ts[out]); },
                transcendental());
          for (int64_t k : {int64_t{1}, std::min<int64_t>(n, 3)}) {
            Case c("topk " + where + " k " + std::to_string(k));
            const int tx = c.input(t, view, values);
            const int vals = c.output(t, contiguous({3, k}));
            const int idx = c.output(DType::i64, contiguous({3, k}));
            c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.topk(ts[tx], k, 1, ts[vals], ts[idx]); });
          }
        }
}

}  // namespace moegrad::cuda_test
