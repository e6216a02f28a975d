// The new op's backward against finite differences, and the check failing on a broken one.
#include <catch2/catch.hpp>

#include "moegrad/core/core.h"
#include "moegrad/moe/expert.h"
#include "squared_relu.h"

using namespace moegrad;

namespace {
// The same forward with the factor 2 forgotten in the backward.
struct BrokenSquaredReLUOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    Tensor r = core::clamp(x, 0.0, 1e300);
    ctx.save(r);
    return core::binary(BinaryOp::mul, r, r);
  }
  TensorList backward(const OpContext& ctx, const Tensor& grad_y) { return {grad_y * ctx.saved(0)}; }
};
}  // namespace

TEST_CASE("squared_relu: analytic gradient matches finite differences") {
  Generator gen(1);
  // Away from 0, where relu(x)^2 is smooth enough for central differences.
  Tensor x = randn({4, 5}, gen, DType::f64);
  x = requires_grad_(x + core::where(core::binary(BinaryOp::ge, x, zeros_like(x)), full_like(x, 0.1), full_like(x, -0.1)));
  GradcheckReport r = gradcheck([](const TensorList& in) { return custom::squared_relu(in[0]); }, {x});
  INFO(r);
  CHECK(r.ok);
  GradcheckReport broken =
      gradcheck([](const TensorList& in) { return apply<BrokenSquaredReLUOp>(in[0]); }, {x});
  CHECK_FALSE(broken.ok);
}

TEST_CASE("the squared_relu expert kind: names, shapes and gradients through the expert") {
  static const bool once = (moe::register_expert_kind(custom::squared_relu_expert()), true);
  (void)once;
  Generator gen(2);
  moe::Expert e({.dim = 4, .hidden_mult = 2.0, .kind = "squared_relu"}, gen, DType::f64);
  std::vector<std::string> names;
  for (const auto& [n, p] : e.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"});
  TensorList inputs{requires_grad_(randn({3, 4}, gen, DType::f64))};
  for (const Tensor& p : e.parameters()) inputs.push_back(p);
  GradcheckReport r = gradcheck([&](const TensorList& in) { return e.forward(in[0]); }, inputs);
  INFO(r);
  CHECK(r.ok);
}
