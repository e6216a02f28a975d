// Float64 gradchecks of the ops that move elements rather than compute them: views
// (autograd/ops/views.h), joining and splitting (joining.h), index-driven ops
// (indexing.h) and matmul (linalg.h). Each runs on a contiguous leaf and on
// non-contiguous views (a transpose, a step-2 slice) of a larger leaf.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

using namespace moegrad;

namespace {

struct Case {
  std::string layout;
  Tensor x;
};

Tensor normal(const Shape& s, Generator& gen) { return randn(s, gen, DType::f64); }

// The same kind of values laid out up to three ways, each a leaf requiring grad:
// contiguous; a transposed view (the last two dims of size > 1 swapped); and every other
// entry along the first dim of size > 1 of a leaf twice as long there. The views are
// left out where the shape has too few dims of size > 1 for them to be non-contiguous.
std::vector<Case> layouts(const Shape& shape, Generator& gen) {
  std::vector<int64_t> big;  // dims of size > 1
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] > 1) big.push_back(static_cast<int64_t>(d));
  std::vector<Case> out{{"contiguous", normal(shape, gen)}};
  if (big.size() >= 2) {
    const int64_t d0 = big[big.size() - 2], d1 = big.back();
    Shape swapped = shape;
    std::swap(swapped[d0], swapped[d1]);
    out.push_back({"transposed view", core::transpose(normal(swapped, gen), d0, d1)});
  }
  if (!big.empty()) {
    Shape doubled = shape;
    doubled[big[0]] *= 2;
    out.push_back({"step-2 slice", core::slice(normal(doubled, gen), big[0], 0, doubled[big[0]], 2)});
  }
  for (Case& c : out) {
    REQUIRE(c.x.shape() == shape);
    REQUIRE(c.x.is_contiguous() == (c.layout == "contiguous"));
    requires_grad_(c.x);
  }
  return out;
}

using Unary = std::function<Tensor(const Tensor&)>;

void check_unary(const Unary& op, const Shape& shape, Generator& gen) {
  for (const Case& c : layouts(shape, gen)) {
    GradcheckReport r = gradcheck([&](const TensorList& in) { return op(in[0]); }, {c.x});
    INFO(c.layout << ": " << r);
    CHECK(r.ok);
  }
}

Tensor index_tensor(const std::vector<int64_t>& values, const Shape& shape) {
  return from_vector(values, shape, DType::i64);
}

// A transposed leaf, for matmul's transposed operands.
Tensor transposed(const Shape& shape, Generator& gen) {
  Shape swapped = shape;
  std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
  Tensor t = core::transpose(normal(swapped, gen), -1, -2);
  REQUIRE(!t.is_contiguous());
  return requires_grad_(t);
}

Tensor leaf(const Shape& s, Generator& gen) { return requires_grad_(normal(s, gen)); }

}  // namespace

// ---- matmul ----------------------------------------------------------------------

TEST_CASE("matmul: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(301);
  struct Pair {
    std::string name;
    Tensor a, b;
    Shape out;
  };
  const std::vector<Pair> pairs{
      {"2-d (3, 4) x (4, 2)", leaf({3, 4}, gen), leaf({4, 2}, gen), {3, 2}},
      {"batched (2, 3, 4) x (2, 4, 2)", leaf({2, 3, 4}, gen), leaf({2, 4, 2}, gen), {2, 3, 2}},
      {"broadcast batch (2, 1, 3, 4) x (5, 4, 2)", leaf({2, 1, 3, 4}, gen), leaf({5, 4, 2}, gen),
       {2, 5, 3, 2}},
      {"batched x 2-d (2, 3, 4) x (4, 2)", leaf({2, 3, 4}, gen), leaf({4, 2}, gen), {2, 3, 2}},
      {"1-d x 2-d (4) x (4, 3)", leaf({4}, gen), leaf({4, 3}, gen), {3}},
      {"2-d x 1-d (3, 4) x (4)", leaf({3, 4}, gen), leaf({4}, gen), {3}},
      {"1-d x 1-d (4) x (4)", leaf({4}, gen), leaf({4}, gen), {}},
      {"1-d x batched (4) x (2, 4, 3)", leaf({4}, gen), leaf({2, 4, 3}, gen), {2, 3}},
      {"transposed a", transposed({3, 4}, gen), leaf({4, 2}, gen), {3, 2}},
      {"transposed b", leaf({3, 4}, gen), transposed({4, 2}, gen), {3, 2}},
      {"both transposed", transposed({3, 4}, gen), transposed({4, 2}, gen), {3, 2}},
      {"batched, both transposed", transposed({2, 3, 4}, gen), transposed({2, 4, 2}, gen),
       {2, 3, 2}},
      {"step-2 slice a", requires_grad_(core::slice(normal({6, 4}, gen), 0, 0, 6, 2)),
       leaf({4, 2}, gen), {3, 2}},
  };
  for (const Pair& p : pairs) {
    INFO(p.name);
    CHECK(matmul(p.a, p.b).shape() == p.out);
    GradcheckReport r =
        gradcheck([](const TensorList& in) { return matmul(in[0], in[1]); }, {p.a, p.b});
    INFO(r);
    CHECK(r.ok);
  }
}

TEST_CASE("linear: analytic gradient matches finite differences, with and without bias",
          "[autograd][gradcheck]") {
  Generator gen(309);
  struct Case {
    std::string name;
    Tensor x, w, b;
  };
  const std::vector<Case> cases{
      {"2-d with bias", leaf({5, 4}, gen), leaf({3, 4}, gen), leaf({3}, gen)},
      {"batched (2, 3, 4) with bias", leaf({2, 3, 4}, gen), leaf({2, 4}, gen), leaf({2}, gen)},
      {"transposed x and weight", transposed({5, 4}, gen), transposed({3, 4}, gen), leaf({3}, gen)},
      {"stride-2 bias", leaf({5, 4}, gen), leaf({3, 4}, gen),
       requires_grad_(core::slice(normal({6}, gen), 0, 0, 6, 2))},
      {"1-d x", leaf({4}, gen), leaf({3, 4}, gen), leaf({3}, gen)},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    GradcheckReport r = gradcheck(
        [](const TensorList& in) { return linear(in[0], in[1], in[2]); }, {c.x, c.w, c.b});
    INFO(r);
    CHECK(r.ok);
    GradcheckReport nb =
        gradcheck([](const TensorList& in) { return linear(in[0], in[1], Tensor()); }, {c.x, c.w});
    INFO(nb);
    CHECK(nb.ok);
  }
}

TEST_CASE("linear equals matmul with the transposed weight plus the bias", "[autograd]") {
  Generator gen(310);
  for (DType dt : {DType::f64, DType::f32}) {
    Tensor x = randn({2, 7, 5}, gen, dt), w = randn({3, 5}, gen, dt), b = randn({3}, gen, dt);
    Tensor y = linear(x, w, b);
    REQUIRE(y.shape() == Shape{2, 7, 3});
    Tensor ref = core::binary(BinaryOp::add, core::matmul(x, core::transpose(w, 0, 1)),
                              core::expand(b, {2, 7, 3}));
    const double worst = core::amax(core::unary(UnaryOp::abs, core::binary(BinaryOp::sub, y, ref))).item<double>();
    CHECK(worst <= (dt == DType::f64 ? 1e-14 : 1e-5));
  }
  CHECK_THROWS_WITH(linear(normal({2, 4}, gen), normal({3, 5}, gen), Tensor()),
                    Catch::Contains("does not end in in_features"));
}

// ---- indexing --------------------------------------------------------------------

TEST_CASE("gather: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(302);
  // Repeats within a row: those entries of x collect several gradients.
  Tensor idx1 = index_tensor({0, 3, 3, 1, 0, 2, 2, 2, 1, 3, 0, 0, 3, 1, 1}, {3, 5});
  Tensor idx0 = index_tensor({2, 0, 1, 2, 2, 2, 0, 0}, {2, 4});
  for (const Case& c : layouts({3, 4}, gen)) {
    for (auto [axis, idx] : std::vector<std::pair<int64_t, Tensor>>{
             {1, idx1}, {-1, idx1}, {0, idx0}, {-2, idx0}}) {
      GradcheckReport r =
          gradcheck([&](const TensorList& in) { return gather(in[0], axis, idx); }, {c.x});
      INFO(c.layout << ", axis " << axis << ": " << r);
      CHECK(r.ok);
    }
  }
}

TEST_CASE("scatter_add: gradients reach both x and src", "[autograd][gradcheck]") {
  Generator gen(303);
  // Along axis 1 of a (3, 4) x, from a (3, 5) src; index 3 repeats in row 0, 2 in row 1.
  Tensor idx1 = index_tensor({3, 0, 3, 3, 1, 2, 2, 0, 1, 2, 0, 1, 2, 3, 0}, {3, 5});
  // Along axis 0 of a (3, 4) x, from a (2, 4) src: column 0 adds twice into row 1.
  Tensor idx0 = index_tensor({1, 0, 2, 2, 1, 2, 2, 0}, {2, 4});
  std::vector<Case> xs = layouts({3, 4}, gen);
  std::vector<Case> src1 = layouts({3, 5}, gen);
  std::vector<Case> src0 = layouts({2, 4}, gen);
  for (size_t i = 0; i < xs.size(); ++i) {
    const Case& x = xs[i];
    for (auto [axis, idx, src] : std::vector<std::tuple<int64_t, Tensor, Case>>{
             {1, idx1, src1[(i + 1) % src1.size()]}, {-1, idx1, src1[i]}, {0, idx0, src0[(i + 2) % src0.size()]}}) {
      GradcheckReport r = gradcheck(
          [&](const TensorList& in) { return scatter_add(in[0], axis, idx, in[1]); },
          {x.x, src.x});
      INFO("x " << x.layout << ", src " << src.layout << ", axis " << axis << ": " << r);
      CHECK(r.ok);
    }
  }
  // Only src requires grad; x is a constant.
  Tensor x = normal({3, 4}, gen);
  GradcheckReport r = gradcheck(
      [&](const TensorList& in) { return scatter_add(x, 1, idx1, in[0]); }, {src1[0].x});
  INFO("constant x: " << r);
  CHECK(r.ok);
}

TEST_CASE("index_select: analytic gradient matches finite differences",
          "[autograd][gradcheck]") {
  Generator gen(304);
  Tensor idx4 = index_tensor({3, 0, 3, 3, 1}, {});  // repeats; entry 2 never picked
  Tensor idx3 = index_tensor({2, 2, 0, 2}, {});
  for (const Case& c : layouts({3, 4}, gen)) {
    for (auto [axis, idx] : std::vector<std::pair<int64_t, Tensor>>{
             {1, idx4}, {-1, idx4}, {0, idx3}, {-2, idx3}}) {
      GradcheckReport r =
          gradcheck([&](const TensorList& in) { return index_select(in[0], axis, idx); }, {c.x});
      INFO(c.layout << ", axis " << axis << ": " << r);
      CHECK(r.ok);
    }
  }
  // A middle axis of a 3-d input.
  Tensor x3 = leaf({2, 4, 3}, gen);
  GradcheckReport r =
      gradcheck([&](const TensorList& in) { return index_select(in[0], 1, idx4); }, {x3});
  INFO("3-d, axis 1: " << r);
  CHECK(r.ok);
}

// ---- joining and splitting -------------------------------------------------------

TEST_CASE("cat: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(305);
  SECTION("axis 0, sizes 2, 4, 1, mixed layouts") {
    std::vector<Case> a = layouts({2, 3}, gen);
    std::vector<Case> b = layouts({4, 3}, gen);
    std::vector<Case> c = layouts({1, 3}, gen);
    for (size_t i = 0; i < a.size(); ++i) {
      for (int64_t axis : {0, -2}) {
        GradcheckReport r = gradcheck(
            [axis](const TensorList& in) { return cat(in, axis); },
            {a[i].x, b[(i + 1) % b.size()].x, c[(i + 2) % c.size()].x});
        INFO("first " << a[i].layout << ", axis " << axis << ": " << r);
        CHECK(r.ok);
      }
    }
  }
  SECTION("last axis, sizes 3, 1, 2") {
    std::vector<Case> a = layouts({2, 3}, gen);
    std::vector<Case> b = layouts({2, 1}, gen);
    std::vector<Case> c = layouts({2, 2}, gen);
    for (size_t i = 0; i < a.size(); ++i) {
      for (int64_t axis : {1, -1}) {
        GradcheckReport r =
            gradcheck([axis](const TensorList& in) { return cat(in, axis); },
                      {a[i].x, b[(i + 2) % b.size()].x, c[(i + 1) % c.size()].x});
        INFO("first " << a[i].layout << ", axis " << axis << ": " << r);
        CHECK(r.ok);
      }
    }
  }
  SECTION("the same tensor twice") {
    Tensor x = leaf({2, 3}, gen);
    GradcheckReport r =
        gradcheck([](const TensorList& in) { return cat({in[0], in[0]}, 0); }, {x});
    INFO(r);
    CHECK(r.ok);
  }
}

TEST_CASE("stack: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(306);
  std::vector<Case> a = layouts({2, 3}, gen);
  std::vector<Case> b = layouts({2, 3}, gen);
  std::vector<Case> c = layouts({2, 3}, gen);
  for (size_t i = 0; i < a.size(); ++i) {
    for (int64_t axis : {0, 1, 2, -1, -3}) {
      GradcheckReport r = gradcheck([axis](const TensorList& in) { return stack(in, axis); },
                                    {a[i].x, b[(i + 1) % b.size()].x, c[(i + 2) % c.size()].x});
      INFO("first " << a[i].layout << ", axis " << axis << ": " << r);
      CHECK(r.ok);
    }
  }
}

TEST_CASE("split: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(307);
  for (const Case& c : layouts({6, 3}, gen)) {
    // Every piece used, weighted differently so a mix-up of pieces would show.
    GradcheckReport sizes = gradcheck(
        [](const TensorList& in) {
          TensorList p = split(in[0], std::vector<int64_t>{1, 3, 2}, 0);
          REQUIRE(p.size() == 3);
          return cat({p[2] * 2.0, p[0] * -1.0, p[1]}, 0);
        },
        {c.x});
    INFO(c.layout << ", sizes {1, 3, 2}: " << sizes);
    CHECK(sizes.ok);
    // Pieces of 4 on a length-6 axis: 4 and 2.
    GradcheckReport by_size = gradcheck(
        [](const TensorList& in) {
          TensorList p = split(in[0], int64_t{4}, 0);
          REQUIRE(p.size() == 2);
          return cat({p[1] * 3.0, p[0]}, 0);
        },
        {c.x});
    INFO(c.layout << ", size 4: " << by_size);
    CHECK(by_size.ok);
    // The middle piece unused: its part of the gradient is zero, and backward copes
    // with an output of the graph that never receives a gradient.
    GradcheckReport unused = gradcheck(
        [](const TensorList& in) {
          TensorList p = split(in[0], std::vector<int64_t>{2, 3, 1}, 0);
          return cat({p[0], p[2]}, 0);
        },
        {c.x});
    INFO(c.layout << ", middle piece unused: " << unused);
    CHECK(unused.ok);
    // Along the last axis, one piece only.
    GradcheckReport last = gradcheck(
        [](const TensorList& in) { return split(in[0], int64_t{2}, -1)[1]; }, {c.x});
    INFO(c.layout << ", last axis, only piece 1: " << last);
    CHECK(last.ok);
  }
}

TEST_CASE("chunk: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(308);
  for (const Case& c : layouts({5, 3}, gen)) {
    // 3 chunks of a length-5 axis: 2, 2 and 1.
    GradcheckReport r = gradcheck(
        [](const TensorList& in) {
          TensorList p = chunk(in[0], 3, 0);
          REQUIRE(p.size() == 3);
          REQUIRE(p[2].shape() == Shape{1, 3});
          return cat({p[1] * 2.0, p[2] * -3.0, p[0]}, 0);
        },
        {c.x});
    INFO(c.layout << ", axis 0: " << r);
    CHECK(r.ok);
    GradcheckReport last = gradcheck(
        [](const TensorList& in) {
          TensorList p = chunk(in[0], 2, -1);
          return p[0] * 0.5 + cat({p[1], p[1]}, -1);
        },
        {c.x});
    INFO(c.layout << ", axis -1: " << last);
    CHECK(last.ok);
  }
}

// ---- views -----------------------------------------------------------------------

TEST_CASE("reshape: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(309);
  for (const Shape& to : {Shape{12}, Shape{2, 6}, Shape{4, -1}, Shape{2, 3, 2}, Shape{12, 1}}) {
    // Non-contiguous inputs take the copying path.
    check_unary([to](const Tensor& x) { return reshape(x, to); }, {3, 4}, gen);
  }
}

TEST_CASE("view: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(310);
  // Splitting the last dim is expressible with the strides of every layout here.
  check_unary([](const Tensor& x) { return view(x, {3, 2, 2}); }, {3, 4}, gen);
  check_unary([](const Tensor& x) { return view(x, {-1, 2, 1, 2}); }, {3, 4}, gen);
  for (const Shape& to : {Shape{12}, Shape{2, 6}, Shape{4, -1}}) {
    Tensor x = leaf({3, 4}, gen);
    GradcheckReport r = gradcheck([to](const TensorList& in) { return view(in[0], to); }, {x});
    INFO(r);
    CHECK(r.ok);
  }
}

TEST_CASE("permute: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(311);
  for (const Axes& dims : {Axes{0, 1, 2}, Axes{2, 0, 1}, Axes{1, 2, 0}, Axes{-1, -3, -2}}) {
    check_unary([dims](const Tensor& x) { return permute(x, dims); }, {2, 3, 4}, gen);
  }
}

TEST_CASE("transpose: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(312);
  for (auto [d0, d1] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {0, 2}, {-1, -2}, {1, 1}}) {
    check_unary([d0, d1](const Tensor& x) { return transpose(x, d0, d1); }, {2, 3, 4}, gen);
  }
}

TEST_CASE("narrow: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(313);
  for (auto [dim, start, length] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {0, 1, 2}, {1, 0, 3}, {-1, -3, 2}, {0, -1, 1}, {1, 2, 2}}) {
    check_unary([dim, start, length](const Tensor& x) { return narrow(x, dim, start, length); },
                {4, 4}, gen);
  }
}

TEST_CASE("slice: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(314);
  for (auto [dim, start, end, step] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{
           {0, 0, 4, 2}, {1, 1, 5, 2}, {-1, -4, 5, 2}, {0, 1, 100, 2}, {1, 0, 5, 3}, {0, 1, 3, 1}}) {
    check_unary(
        [dim, start, end, step](const Tensor& x) { return slice(x, dim, start, end, step); },
        {4, 5}, gen);
  }
}

TEST_CASE("expand: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(315);
  check_unary([](const Tensor& x) { return expand(x, {3, 4}); }, {3, 1}, gen);
  check_unary([](const Tensor& x) { return expand(x, {2, 3, 4}); }, {1, 4}, gen);
  check_unary([](const Tensor& x) { return expand(x, {2, -1, 3, -1}); }, {3, 1, 2}, gen);
  check_unary([](const Tensor& x) { return expand(x, {2, 3, 4}); }, {3, 4}, gen);
  // A 0-d input to every shape.
  GradcheckReport r = gradcheck([](const TensorList& in) { return expand(in[0], {2, 3}); },
                                {leaf({}, gen)});
  INFO("0-d: " << r);
  CHECK(r.ok);
}

TEST_CASE("squeeze: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(316);
  check_unary([](const Tensor& x) { return squeeze(x, 1); }, {3, 1, 4, 1}, gen);
  check_unary([](const Tensor& x) { return squeeze(x, -1); }, {3, 4, 1}, gen);
  check_unary([](const Tensor& x) { return squeeze(x, 0); }, {3, 4}, gen);  // size 3: no-op
  check_unary([](const Tensor& x) { return squeeze(x); }, {3, 1, 4, 1}, gen);
}

TEST_CASE("unsqueeze: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(317);
  for (int64_t dim : {0, 1, 2, -1, -3}) {
    check_unary([dim](const Tensor& x) { return unsqueeze(x, dim); }, {3, 4}, gen);
  }
}

TEST_CASE("flatten: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(318);
  check_unary([](const Tensor& x) { return flatten(x); }, {2, 3, 4}, gen);
}

TEST_CASE("contiguous: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(319);
  check_unary([](const Tensor& x) { return contiguous(x); }, {3, 4}, gen);
  check_unary([](const Tensor& x) { return contiguous(transpose(x, 0, 1)) * 2.0; }, {3, 4}, gen);
}

TEST_CASE("clone: analytic gradient matches finite differences", "[autograd][gradcheck]") {
  Generator gen(320);
  check_unary([](const Tensor& x) { return clone(x); }, {3, 4}, gen);
  check_unary([](const Tensor& x) { return clone(x) * x; }, {3, 4}, gen);
}
