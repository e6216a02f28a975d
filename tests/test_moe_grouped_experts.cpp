// The grouped experts (moe/grouped_experts.h): on two or more threads, whole experts run
// side by side as one graph node. They must give the values and gradients of running each
// Expert on its own rows, bit for bit, in both dtypes, empty experts included.
#include <catch2/catch.hpp>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/core/threading.h"
#include "moegrad/moe/grouped_experts.h"
#include "moegrad/moe/moe.h"
#include "moegrad/nn/activation.h"
#include "moegrad/nn/container.h"
#include "moegrad/nn/linear.h"

using namespace moegrad;
using namespace moegrad::moe;

namespace {

struct ThreadsGuard {
  ~ThreadsGuard() { set_num_threads(1); }
};

struct Result {
  std::vector<std::vector<double>> outputs, input_grads, param_grads;
};

// Experts on rows {rows...}, loss sum_i sum(out_i * cot_i), grouped or one by one.
Result run_experts(DType dt, bool grouped, bool mult_bias) {
  Generator gen(77);
  ExpertOptions opt{.dim = 6, .hidden_mult = 2.0, .mult_bias = mult_bias};
  Experts experts(4, opt, gen, dt);
  const std::vector<int64_t> rows{5, 0, 3, 9};
  TensorList xs, cots;
  for (int64_t r : rows) {
    xs.push_back(requires_grad_(randn({r, 6}, gen, dt)));
    cots.push_back(randn({r, 6}, gen, dt));
  }
  // mult_bias starts at ones: move it, so its gradient and its scale both matter.
  for (const Tensor& p : experts.parameters())
    if (p.dim() == 1) core::copy_(p, randn(p.shape(), gen, dt));
  TensorList outs;
  if (grouped) {
    REQUIRE(can_group_experts(experts));
    outs = grouped_experts_forward(experts, xs);
  } else {
    for (size_t i = 0; i < rows.size(); ++i) outs.push_back(experts[i].forward(xs[i]));
  }
  Tensor loss = zeros({}, dt);
  for (size_t i = 0; i < outs.size(); ++i) loss = loss + sum(outs[i] * cots[i]);
  backward(loss);
  Result r;
  for (const Tensor& o : outs) r.outputs.push_back(o.to_vector<double>());
  for (const Tensor& x : xs) r.input_grads.push_back(grad(x).defined() ? grad(x).to_vector<double>() : std::vector<double>());
  for (const Tensor& p : experts.parameters()) r.param_grads.push_back(grad(p).to_vector<double>());
  return r;
}

}  // namespace

TEST_CASE("grouped experts give the bits of running each expert on its own", "[moe][threading]") {
  ThreadsGuard guard;
  for (DType dt : {DType::f64, DType::f32}) {
    for (bool mult_bias : {true, false}) {
      INFO(dtype_name(dt) << (mult_bias ? " with" : " without") << " mult_bias");
      set_num_threads(1);
      const Result alone = run_experts(dt, /*grouped=*/false, mult_bias);
      for (int threads : {2, 3}) {
        INFO(threads << " threads");
        set_num_threads(threads);
        const Result grouped = run_experts(dt, /*grouped=*/true, mult_bias);
        CHECK(grouped.outputs == alone.outputs);
        CHECK(grouped.input_grads == alone.input_grads);
        REQUIRE(grouped.param_grads.size() == alone.param_grads.size());
        for (size_t i = 0; i < alone.param_grads.size(); ++i) {
          INFO("parameter " << i);
          CHECK(grouped.param_grads[i] == alone.param_grads[i]);
        }
      }
    }
  }
}

TEST_CASE("grouped experts: gradcheck on two threads", "[moe][gradcheck][threading]") {
  ThreadsGuard guard;
  set_num_threads(2);
  Generator gen(78);
  Experts experts(3, ExpertOptions{.dim = 3, .hidden_mult = 2.0}, gen, DType::f64);
  TensorList inputs{requires_grad_(randn({4, 3}, gen, DType::f64)), requires_grad_(randn({0, 3}, gen, DType::f64)),
                    requires_grad_(randn({2, 3}, gen, DType::f64))};
  TensorList all = inputs;
  for (const Tensor& p : experts.parameters()) all.push_back(p);
  GradcheckReport r = gradcheck(
      [&](const TensorList& in) {
        TensorList outs = grouped_experts_forward(experts, TensorList(in.begin(), in.begin() + 3));
        return cat({reshape(outs[0], {-1}), reshape(outs[1], {-1}), reshape(outs[2], {-1})}, 0);
      },
      all);
  INFO(r);
  CHECK(r.ok);
}

// At these sizes every gemm runs on one OpenBLAS thread (matmul.cpp), whose results are the
// only ones that can be compared bit for bit across thread counts.
TEST_CASE("an MoE layer on two threads matches one thread", "[moe][threading]") {
  ThreadsGuard guard;
  auto run = [](int threads) {
    set_num_threads(threads);
    Generator gen(79);
    MoEOptions o;
    o.dim = 8;
    o.num_experts = 4;
    o.top_n = 2;
    MoE layer(o, gen, DType::f64);
    Tensor x = requires_grad_(randn({2, 16, 8}, gen, DType::f64));
    GatingCall call;
    call.gen = &gen;
    MoEOutput out = layer.forward(x, call);
    backward(sum(out.outputs * out.outputs) + out.total_aux_loss);
    std::vector<std::vector<double>> r{out.outputs.to_vector<double>(), grad(x).to_vector<double>()};
    for (const Tensor& p : layer.parameters()) r.push_back(grad(p).defined() ? grad(p).to_vector<double>() : std::vector<double>());
    return r;
  };
  const auto one = run(1), two = run(2);
  REQUIRE(one.size() == two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("tensor " << i);
    CHECK(one[i] == two[i]);
  }
}

TEST_CASE("an expert whose net is not the GEGLU feedforward is never grouped (and never misread)", "[moe]") {
  // Before: the grouped path cast net[1] to GEGLU unchecked, so a swapped net was misread.
  ThreadsGuard restore;
  set_num_threads(2);
  Generator gen(5);
  ExpertOptions opt{.dim = 6, .hidden_mult = 2.0};
  Experts experts(3, opt, gen);
  CHECK(can_group_experts(experts));
  experts[1].net = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Layer>>{
      std::make_shared<nn::Linear>(6, 8, true, gen), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(8, 6, true, gen)});
  CHECK_FALSE(can_group_experts(experts));
  Tensor x = randn({4, 6}, gen);
  const std::vector<double> direct = experts[1].forward(x).to_vector<double>();
  CHECK(direct.size() == 24);
  CHECK_THROWS_WITH(grouped_experts_forward(experts, {x, x, x}), Catch::Contains("is not a GEGLU feedforward"));
}
