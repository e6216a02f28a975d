// copy, fill, arange, unary, binary and where: CUDA against the CPU, every dtype the CPU
// accepts, over contiguous, transposed, broadcast, sliced and empty views.
#include <catch2/catch.hpp>

#include "tests/cuda/harness.h"

namespace moegrad::cuda_test {

namespace {

// 37 x 29 = 1073 elements: not a multiple of the block, and more than the two blocks the
// suite allows per launch cover (main.cpp), so every kernel loops by the grid stride.
const Shape kShape = {37, 29};

struct NamedView {
  const char* name;
  View view;
};

std::vector<NamedView> input_views(const Shape& s) {
  return {{"contiguous", contiguous(s)},
          {"transposed", transposed(s)},
          {"broadcast", broadcast(s, 0)},
          {"sliced", sliced(s)},
          {"empty", contiguous({0, s[1]})},
          {"scalar", contiguous({})}};
}

// The output view matching an input view's shape.
View out_for(const View& in) { return contiguous(in.shape); }

std::string name_of(const char* op, DType t, const char* layout) {
  return std::string(op) + " " + std::string(dtype_name(t)) + " " + layout;
}

}  // namespace

TEST_CASE("copy: every dtype pair, every input layout, into contiguous and strided outputs", "[cuda][copy]") {
  for (DType from : all_dtypes())
    for (DType to : all_dtypes())
      for (const NamedView& v : input_views(kShape)) {
        Case c(name_of("copy", from, v.name) + " -> " + std::string(dtype_name(to)));
        const int src = c.input(from, v.view);
        const int out = c.output(to, out_for(v.view));
        c.run([&](Backend& b, const std::vector<Tensor>& t) { b.copy(t[src], t[out]); });
      }
  // Assignment into views: transposed and strided outputs, only their elements written.
  for (DType t : all_dtypes())
    for (const View& outv : {transposed(kShape), sliced(kShape), sliced({5, 3, 29})}) {
      Case c(name_of("copy into view", t, "strided out") + shape_str(outv.strides));
      const int src = c.input(t, broadcast(outv.shape, 0));
      const int out = c.output(t, outv);
      c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.copy(ts[src], ts[out]); });
    }
}

TEST_CASE("fill: every dtype, contiguous and strided outputs", "[cuda][fill]") {
  for (DType t : all_dtypes())
    for (const View& v : {contiguous(kShape), transposed(kShape), sliced(kShape), contiguous({0, 4}), contiguous({})})
      for (double value : {2.5, -3.0, 0.0}) {
        Case c(name_of("fill", t, "") + shape_str(v.strides) + " " + std::to_string(value));
        const int out = c.output(t, v);
        c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.fill(ts[out], value); });
      }
}

TEST_CASE("arange: numeric dtypes", "[cuda][arange]") {
  for (DType t : numeric_dtypes())
    for (int64_t n : {0, 1, 1000}) {
      Case c(name_of("arange", t, "") + std::to_string(n));
      const int out = c.output(t, contiguous({n}));
      const double start = t == DType::i64 ? 2.0 : -3.5, step = t == DType::i64 ? 3.0 : 0.1;
      c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.arange(ts[out], start, step); });
    }
}

TEST_CASE("unary: every op, every dtype it takes, every layout", "[cuda][unary]") {
  struct U {
    UnaryOp op;
    const char* name;
    bool float_only;
    bool libm;
    UnaryParams p;
  };
  const U ops[] = {
      {UnaryOp::neg, "neg", false, false, {}},           {UnaryOp::abs, "abs", false, false, {}},
      {UnaryOp::relu, "relu", false, false, {}},         {UnaryOp::sign, "sign", false, false, {}},
      {UnaryOp::clamp, "clamp", false, false, {-0.5, 0.7}},
      {UnaryOp::clamp, "clamp upper only", false, false, {-INFINITY, 1.5}},
      {UnaryOp::exp, "exp", true, true, {}},             {UnaryOp::log, "log", true, true, {}},
      {UnaryOp::sqrt, "sqrt", true, false, {}},          {UnaryOp::gelu, "gelu", true, true, {}},
      {UnaryOp::gelu_grad, "gelu_grad", true, true, {}}, {UnaryOp::sigmoid, "sigmoid", true, true, {}},
      {UnaryOp::tanh, "tanh", true, true, {}},           {UnaryOp::erf, "erf", true, true, {}},
      {UnaryOp::pow_scalar, "pow 2", true, false, {2.0, 0}},
      {UnaryOp::pow_scalar, "pow 1.7", true, true, {1.7, 0}},
  };
  for (const U& u : ops)
    for (DType t : u.float_only ? float_dtypes() : numeric_dtypes())
      for (const NamedView& v : input_views(kShape))
        for (Values values : {Values::normal, Values::special}) {
          if (values == Values::special && !is_floating(t)) continue;
          Case c(name_of(u.name, t, v.name) + (values == Values::special ? " special" : ""));
          const int x = c.input(t, v.view, values);
          const int out = c.output(t, out_for(v.view));
          c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.unary(u.op, ts[x], ts[out], u.p); },
                u.libm ? transcendental() : exact());
        }
  for (const NamedView& v : input_views(kShape)) {
    Case c(name_of("logical_not", DType::b8, v.name));
    const int x = c.input(DType::b8, v.view);
    const int out = c.output(DType::b8, out_for(v.view));
    c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.unary(UnaryOp::logical_not, ts[x], ts[out], {}); });
  }
}

TEST_CASE("unary: the ops the CPU refuses are refused", "[cuda][unary]") {
  Case c("unary exp int64");
  const int x = c.input(DType::i64, contiguous({4}));
  const int out = c.output(DType::i64, contiguous({4}));
  c.run([&](Backend& b, const std::vector<Tensor>& ts) {
    CHECK_THROWS_WITH(b.unary(UnaryOp::exp, ts[x], ts[out], {}), "unary: op not implemented for int64");
  });
}

TEST_CASE("binary: every op, every dtype, mixed layouts", "[cuda][binary]") {
  const std::pair<BinaryOp, const char*> arith[] = {{BinaryOp::add, "add"}, {BinaryOp::sub, "sub"},
                                                    {BinaryOp::mul, "mul"}, {BinaryOp::div, "div"},
                                                    {BinaryOp::pow, "pow"}, {BinaryOp::maximum, "maximum"},
                                                    {BinaryOp::minimum, "minimum"}};
  const std::pair<BinaryOp, const char*> compare[] = {
      {BinaryOp::eq, "eq"}, {BinaryOp::ne, "ne"}, {BinaryOp::lt, "lt"},
      {BinaryOp::le, "le"}, {BinaryOp::gt, "gt"}, {BinaryOp::ge, "ge"},
      {BinaryOp::logical_and, "logical_and"}, {BinaryOp::logical_or, "logical_or"}};
  const std::vector<NamedView> views = input_views(kShape);
  // (a layout, b layout) pairs: each layout on each side at least once.
  const std::pair<size_t, size_t> pairs[] = {{0, 0}, {1, 2}, {2, 3}, {3, 1}, {0, 2}, {4, 4}, {5, 5}};
  for (const auto& [op, name] : arith)
    for (DType t : numeric_dtypes())
      for (const auto& [ia, ib] : pairs)
        for (Values values : {Values::normal, Values::special}) {
          if (values == Values::special && !is_floating(t)) continue;
          const View& va = views[ia].view;
          const View vb = views[ib].view.shape == va.shape ? views[ib].view : contiguous(va.shape);
          Case c(name_of(name, t, views[ia].name) + " with " + views[ib].name);
          const Values bv = t == DType::i64 && op == BinaryOp::div ? Values::nonzero
                            : t == DType::i64 && op == BinaryOp::pow ? Values::positive
                                                                     : values;
          const int a = c.input(t, va, values);
          const int b = c.input(t, vb, bv);
          const int out = c.output(t, contiguous(va.shape));
          c.run([&](Backend& be, const std::vector<Tensor>& ts) { be.binary(op, ts[a], ts[b], ts[out]); },
                op == BinaryOp::pow ? transcendental() : exact());
        }
  for (const auto& [op, name] : compare)
    for (DType t : all_dtypes())
      for (const auto& [ia, ib] : pairs) {
        const View& va = views[ia].view;
        const View vb = views[ib].view.shape == va.shape ? views[ib].view : contiguous(va.shape);
        Case c(name_of(name, t, views[ia].name) + " with " + views[ib].name);
        const int a = c.input(t, va, is_floating(t) ? Values::special : Values::normal);
        const int b = c.input(t, vb);
        const int out = c.output(DType::b8, contiguous(va.shape));
        c.run([&](Backend& be, const std::vector<Tensor>& ts) { be.binary(op, ts[a], ts[b], ts[out]); });
      }
}

TEST_CASE("where: every dtype, mixed layouts", "[cuda][where]") {
  const std::vector<NamedView> views = input_views(kShape);
  for (DType t : all_dtypes())
    for (size_t i = 0; i < views.size(); ++i) {
      const View& vc = views[i].view;
      const View& va = views[(i + 1) % 4].view;
      const View& vb = views[(i + 2) % 4].view;
      const bool same = va.shape == vc.shape && vb.shape == vc.shape;
      Case c(name_of("where", t, views[i].name));
      const int cond = c.input(DType::b8, vc);
      const int a = c.input(t, same ? va : contiguous(vc.shape));
      const int b = c.input(t, same ? vb : contiguous(vc.shape));
      const int out = c.output(t, contiguous(vc.shape));
      c.run([&](Backend& be, const std::vector<Tensor>& ts) { be.where(ts[cond], ts[a], ts[b], ts[out]); });
    }
}

}  // namespace moegrad::cuda_test
