// The backward walk, gradient bookkeeping and the custom-op API, checked on graphs whose
// gradients are worked out by hand.
#include <catch2/catch.hpp>
#include <pthread.h>

#include <functional>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

using namespace moegrad;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
Tensor leaf(std::initializer_list<double> v, const Shape& shape = {}) {
  return requires_grad_(tensor(v, shape));
}
}  // namespace

TEST_CASE("backward accumulates into leaves across calls", "[autograd]") {
  Tensor x = leaf({1, 2, 3});
  backward(sum(x * x));  // d/dx = 2x
  CHECK(values(grad(x)) == std::vector<double>{2, 4, 6});
  backward(sum(x * 3.0));  // adds 3
  CHECK(values(grad(x)) == std::vector<double>{5, 7, 9});
  zero_grad(x);
  CHECK_FALSE(grad(x).defined());
}

TEST_CASE("leaves keep gradients of their own: taken buffers are never shared", "[autograd]") {
  // x + y hands one gradient tensor to both leaves; each must end up with its own memory.
  Tensor x = leaf({1, 2, 3}), y = leaf({4, 5, 6});
  backward(sum(x + y));
  CHECK(grad(x).storage() != grad(y).storage());
  backward(sum(x * 2.0));  // accumulates into x's gradient in place
  CHECK(values(grad(x)) == std::vector<double>{3, 3, 3});
  CHECK(values(grad(y)) == std::vector<double>{1, 1, 1});
  // A gradient the user still holds (the upstream one of a leaf root) is copied, not taken.
  Tensor w = leaf({1, 2});
  Tensor upstream = tensor({10, 20}, {2});
  backward(w, upstream);
  CHECK(grad(w).storage() != upstream.storage());
  backward(w, upstream);
  CHECK(values(upstream) == std::vector<double>{10, 20});
  CHECK(values(grad(w)) == std::vector<double>{20, 40});
}

TEST_CASE("a tensor used twice gets both contributions (diamond graph)", "[autograd]") {
  Tensor x = leaf({2});
  Tensor a = x * x;     // 2x
  Tensor b = x * 5.0;   // 5
  backward(sum(a * b)); // d(5x^3)/dx = 15x^2 = 60
  CHECK(values(grad(x))[0] == Approx(60.0));
}

TEST_CASE("broadcast gradients are summed to the input's shape", "[autograd]") {
  Tensor a = leaf({1, 2, 3}, {3, 1});
  Tensor b = leaf({10, 20}, {2});
  backward(sum(a * b));
  CHECK(grad(a).shape() == Shape{3, 1});
  CHECK(values(grad(a)) == std::vector<double>{30, 30, 30});
  CHECK(grad(b).shape() == Shape{2});
  CHECK(values(grad(b)) == std::vector<double>{6, 6});
}

TEST_CASE("backward with an explicit upstream gradient", "[autograd]") {
  Tensor x = leaf({1, 2});
  Tensor y = x * x;
  backward(y, tensor({1, 10}));
  CHECK(values(grad(x)) == std::vector<double>{2, 40});
}

TEST_CASE("retain_grad keeps the gradient of an intermediate", "[autograd]") {
  Tensor x = leaf({1, 2});
  Tensor h = x * 3.0;
  Tensor other = x * 4.0;
  retain_grad(h);
  backward(sum(h * h));  // dL/dh = 2h = 6x
  CHECK(values(grad(h)) == std::vector<double>{6, 12});
  CHECK_FALSE(grad(other).defined());  // not retained
  CHECK(values(grad(x)) == std::vector<double>{18, 36});
}

TEST_CASE("hooks see the gradient and may replace it", "[autograd]") {
  Tensor x = leaf({1, 2});
  Tensor h = x * 2.0;
  std::vector<double> seen;
  register_hook(h, [&](const Tensor& g) {
    seen = values(g);
    return g * 10.0;  // scales everything upstream of h
  });
  int leaf_calls = 0;
  register_hook(x, [&](const Tensor&) {
    ++leaf_calls;
    return Tensor();  // keep the gradient
  });
  backward(sum(h));
  CHECK(seen == std::vector<double>{1, 1});
  CHECK(values(grad(x)) == std::vector<double>{20, 20});
  CHECK(leaf_calls == 1);
}

TEST_CASE("detach and NoGradGuard cut the graph", "[autograd]") {
  Tensor x = leaf({3});
  Tensor d = detach(x * x);
  CHECK_FALSE(requires_grad(d));
  {
    NoGradGuard guard;
    Tensor y = x * 2.0;
    CHECK_FALSE(requires_grad(y));
    CHECK_FALSE(GradMode::is_enabled());
  }
  CHECK(GradMode::is_enabled());
  Tensor z = x * d;  // d is a constant 9
  backward(sum(z));
  CHECK(values(grad(x)) == std::vector<double>{9});
}

TEST_CASE("indices and masks carry no graph", "[autograd]") {
  Tensor x = leaf({3, 1, 2});
  auto [v, idx] = topk(x, 2);
  CHECK(requires_grad(v));
  CHECK_FALSE(requires_grad(idx));
  CHECK_FALSE(requires_grad(x > 1.0));
  CHECK_FALSE(requires_grad(argmax(x, 0)));
  CHECK(values(idx) == std::vector<double>{0, 2});
  CHECK_THROWS_AS(requires_grad_(arange(3)), Error);
}

TEST_CASE("grad_fn names the op and leaves have none", "[autograd]") {
  Tensor x = leaf({1});
  CHECK(is_leaf(x));
  CHECK(grad_fn_name(x).empty());
  Tensor y = tanh(x);
  CHECK_FALSE(is_leaf(y));
  CHECK(grad_fn_name(y) == "TanhOp");
}

TEST_CASE("an op returning its input unchanged keeps the input a leaf", "[autograd]") {
  Tensor x = requires_grad_(tensor({1, 2}));
  Tensor c = contiguous(x);  // already contiguous: the same data
  CHECK(is_leaf(x));
  CHECK_FALSE(is_leaf(c));
  backward(sum(c * 2.0));
  CHECK(values(grad(x)) == std::vector<double>{2, 2});
}

TEST_CASE("backward errors name what is wrong", "[autograd]") {
  Tensor x = tensor({1, 2});
  CHECK_THROWS_WITH(backward(sum(x)), Catch::Contains("does not require grad"));
  Tensor y = requires_grad_(tensor({1, 2})) * 2.0;
  CHECK_THROWS_WITH(backward(y), Catch::Contains("one element"));
  CHECK_THROWS_WITH(backward(y, tensor({1, 2, 3})), Catch::Contains("[3]"));
}

TEST_CASE("deep graphs neither overflow the walk nor the teardown", "[autograd]") {
  Tensor x = leaf({1});
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = y * 1.0;
  backward(sum(y));
  CHECK(values(grad(x)) == std::vector<double>{1});
}

namespace {
// The custom-op example of autograd/function.h: y = alpha * x.
struct ScaleOp {
  double alpha = 0;
  Tensor forward(OpContext&, const Tensor& x, double a) {
    alpha = a;
    return core::binary(BinaryOp::mul, x, core::scalar_like(a, x));
  }
  TensorList backward(const OpContext&, const Tensor& grad_y) { return {grad_y * alpha}; }
};

// Two outputs, a saved tensor, and needs_input_grad: (x * y, x + y).
struct MulAddOp {
  TensorList forward(OpContext& ctx, const Tensor& x, const Tensor& y) {
    ctx.save_all(x, y);
    return {core::binary(BinaryOp::mul, x, y), core::binary(BinaryOp::add, x, y)};
  }
  TensorList backward(const OpContext& ctx, const TensorList& g) {
    const Tensor& x = ctx.saved(0);
    const Tensor& y = ctx.saved(1);
    return {g[0] * y + g[1], ctx.needs_input_grad(1) ? g[0] * x + g[1] : Tensor()};
  }
};
}  // namespace

TEST_CASE("custom op: forward, backward and gradcheck", "[autograd][gradcheck]") {
  Generator gen(3);
  Tensor x = requires_grad_(randn({2, 3}, gen, DType::f64));
  GradcheckReport r = gradcheck([](const TensorList& in) { return apply<ScaleOp>(in[0], 2.5); }, {x});
  INFO(r);
  CHECK(r.ok);

  Tensor a = requires_grad_(randn({3}, gen, DType::f64));
  Tensor b = requires_grad_(randn({3}, gen, DType::f64));
  GradcheckReport r2 =
      gradcheck_multi([](const TensorList& in) { return apply<MulAddOp>(in[0], in[1]); }, {a, b});
  INFO(r2);
  CHECK(r2.ok);
}

TEST_CASE("custom op: an unused output gets a zero gradient", "[autograd]") {
  Tensor x = leaf({2});
  Tensor y = tensor({5});
  TensorList out = apply<MulAddOp>(x, y);
  backward(sum(out[1]));  // only x + y used
  CHECK(values(grad(x)) == std::vector<double>{1});
}

// Runs fn on a thread with a stack of `bytes`, so that a recursion as deep as the graph
// overflows it at a depth that is quick to build (the main thread's 8 MiB needs ~10x more).
void run_on_stack(size_t bytes, const std::function<void()>& fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, bytes);
  pthread_t thread;
  auto trampoline = [](void* f) -> void* {
    (*static_cast<const std::function<void()>*>(f))();
    return nullptr;
  };
  REQUIRE(pthread_create(&thread, &attr, trampoline, const_cast<std::function<void()>*>(&fn)) == 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

// Freeing a graph must not recurse once per node: each node's destructor used to destroy
// the node before it, so a chain this deep overflowed a 1 MiB stack (and a 200000-op chain
// the main thread's 8 MiB).
TEST_CASE("a deep chain of ops is freed without overflowing the stack", "[autograd]") {
  constexpr int kDepth = 50000;
  constexpr size_t kStack = size_t{512} << 10;
  auto chain = [](const Tensor& x) {
    Tensor y = x;
    for (int i = 0; i < kDepth; ++i) y = y * 1.0;
    return y;
  };
  Tensor x = leaf({2.0});
  SECTION("without backward") {
    run_on_stack(kStack, [&] { Tensor y = chain(x); });
    CHECK(x.handle_count() == 1);  // the AccumulateGrad node that held x is gone too
  }
  SECTION("after backward") {
    run_on_stack(kStack, [&] {
      Tensor y = chain(x);
      backward(y);
    });
    CHECK(values(grad(x)) == std::vector<double>{1.0});
    CHECK(x.handle_count() == 1);
  }
}
