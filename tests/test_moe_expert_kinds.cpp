// Expert kinds (moe/expert_kind.h): geglu, swiglu and mlp compute their formulas, have
// gradients that pass gradcheck, give the same MoE on both dispatch paths and on one or two
// threads; a program can register a kind of its own; and replacing an expert's net is
// followed by its parameter names and by the grouped fast path.
#include <catch2/catch.hpp>

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/core/threading.h"
#include "moegrad/moe/expert_kind.h"
#include "moegrad/moe/grouped_experts.h"
#include "moegrad/moe/moe.h"
#include "moegrad/moe/size_estimate.h"
#include "moegrad/nn/activation.h"
#include "moegrad/nn/container.h"
#include "moegrad/nn/linear.h"
#include "moegrad/nn/swiglu.h"

using namespace moegrad;
using namespace moegrad::moe;

namespace {

struct ThreadsGuard {
  ~ThreadsGuard() { set_num_threads(1); }
};

std::vector<std::string> names(const nn::NamedTensors& v) {
  std::vector<std::string> out;
  for (const auto& [n, t] : v) out.push_back(n);
  return out;
}

const nn::Linear& linear_at(const Expert& e, const std::string& path) {
  auto l = std::dynamic_pointer_cast<nn::Linear>(e.find_module(path));
  REQUIRE(l);
  return *l;
}

// x W^T + b, element by element in double: the formulas written out, not moegrad's ops.
std::vector<double> affine(const std::vector<double>& x, int64_t rows, const nn::Linear& l) {
  const auto w = l.weight.to_vector<double>(), b = l.bias.to_vector<double>();
  const int64_t out = l.weight.size(0), in = l.weight.size(1);
  std::vector<double> y(rows * out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b[o];
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

double gelu_exact(double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }
double silu_exact(double v) { return v / (1 + std::exp(-v)); }

}  // namespace

TEST_CASE("each shipped expert kind computes its formula with its parameter names", "[moe]") {
  Generator gen(21);
  const int64_t d = 6, rows = 5;
  const Tensor x = randn({rows, d}, gen, DType::f64);
  const std::vector<double> xv = x.to_vector<double>();

  Expert swiglu({.dim = d, .hidden_mult = 2.0, .kind = "swiglu"}, gen, DType::f64);
  CHECK(names(swiglu.named_parameters()) ==
        std::vector<std::string>{"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"});
  const int64_t h = swiglu.options.hidden();
  CHECK(h == 8);  // int(6 * 2 * 2 / 3)
  {
    const auto z = affine(xv, rows, linear_at(swiglu, "net.0"));
    std::vector<double> act(rows * h);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < h; ++i) act[r * h + i] = silu_exact(z[r * 2 * h + h + i]) * z[r * 2 * h + i];
    const auto want = affine(act, rows, linear_at(swiglu, "net.2"));
    const auto got = swiglu.forward(x).to_vector<double>();
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-12));
  }

  Expert mlp({.dim = d, .hidden_mult = 1.5, .kind = "mlp"}, gen, DType::f64);
  CHECK(mlp.options.hidden() == 9);  // int(6 * 1.5)
  CHECK(names(mlp.named_parameters()) ==
        std::vector<std::string>{"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"});
  {
    auto z = affine(xv, rows, linear_at(mlp, "net.0"));
    for (double& v : z) v = gelu_exact(v);
    const auto want = affine(z, rows, linear_at(mlp, "net.2"));
    const auto got = mlp.forward(x).to_vector<double>();
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-12));
  }

  Expert geglu({.dim = d, .hidden_mult = 2.0}, gen, DType::f64);
  CHECK(names(geglu.named_parameters()) ==
        std::vector<std::string>{"net.0.weight", "net.0.bias", "net.1.mult_bias", "net.2.weight", "net.2.bias"});
  Expert normed({.dim = d, .hidden_mult = 2.0, .prenorm = true, .kind = "swiglu"}, gen, DType::f64);
  CHECK(names(normed.named_parameters()).front() == "net.0.gamma");
}

TEST_CASE("SwiGLU and the mlp expert: gradcheck of input and every parameter", "[moe][gradcheck]") {
  Generator gen(22);
  nn::SwiGLU swiglu(3);
  Tensor x = requires_grad_(randn({4, 6}, gen, DType::f64));
  Tensor xt = requires_grad_(core::transpose(randn({6, 4}, gen, DType::f64), 0, 1));  // non-contiguous
  for (const Tensor& input : {x, xt}) {
    GradcheckReport r = gradcheck([&](const TensorList& in) { return swiglu.forward(in[0]); }, {input});
    INFO(r);
    CHECK(r.ok);
  }
  for (const char* kind : {"swiglu", "mlp"}) {
    for (bool prenorm : {false, true}) {
      Expert e({.dim = 4, .hidden_mult = 1.5, .prenorm = prenorm, .kind = kind}, gen, DType::f64);
      TensorList inputs{requires_grad_(randn({3, 4}, gen, DType::f64))};
      for (const Tensor& p : e.parameters()) inputs.push_back(p);
      GradcheckReport r = gradcheck([&](const TensorList& in) { return e.forward(in[0]); }, inputs);
      INFO(kind << " prenorm=" << prenorm << ": " << r);
      CHECK(r.ok);
    }
  }
}

TEST_CASE("an MoE of each kind: dense and indexed dispatch agree, one and two threads agree", "[moe][threading]") {
  ThreadsGuard restore;
  for (const char* kind : {"geglu", "swiglu", "mlp"}) {
    auto run = [&](Dispatch dispatch, int threads) {
      set_num_threads(threads);
      Generator gen(23);
      MoEOptions o;
      o.dim = 8;
      o.num_experts = 4;
      o.expert_kind = kind;
      o.dispatch = dispatch;
      SparseMoEBlock block({.moe = o, .add_ff_before = true, .add_ff_after = true}, gen, DType::f64);
      Tensor x = requires_grad_(randn({2, 12, 8}, gen, DType::f64));
      GatingCall call;
      call.gen = &gen;
      MoEOutput out = block.forward(x, call);
      backward(sum(out.outputs * out.outputs) + out.total_aux_loss);
      std::vector<std::vector<double>> r{out.outputs.to_vector<double>(), grad(x).to_vector<double>()};
      for (const Tensor& p : block.parameters())
        r.push_back(grad(p).defined() ? grad(p).to_vector<double>() : std::vector<double>());
      return r;
    };
    const auto indexed = run(Dispatch::indexed, 1), dense = run(Dispatch::dense, 1), two = run(Dispatch::indexed, 2);
    REQUIRE(indexed.size() == dense.size());
    for (size_t i = 0; i < indexed.size(); ++i) {
      INFO(kind << " tensor " << i);
      REQUIRE(indexed[i].size() == dense[i].size());
      for (size_t j = 0; j < indexed[i].size(); ++j) CHECK(indexed[i][j] == Approx(dense[i][j]).margin(1e-12));
      CHECK(indexed[i] == two[i]);  // grouped (geglu) or one by one, the same bits
    }
  }
}

TEST_CASE("the grouped fast path takes the kinds that declare a GEGLU layout only", "[moe][threading]") {
  ThreadsGuard restore;
  set_num_threads(2);
  Generator gen(24);
  CHECK(can_group_experts(Experts(3, {.dim = 6, .hidden_mult = 2.0}, gen)));
  CHECK_FALSE(can_group_experts(Experts(3, {.dim = 6, .hidden_mult = 2.0, .kind = "swiglu"}, gen)));
  CHECK_FALSE(can_group_experts(Experts(3, {.dim = 6, .hidden_mult = 2.0, .kind = "mlp"}, gen)));
}

TEST_CASE("replacing an expert's net is followed by its names, the optimizer's view and the grouped path", "[moe]") {
  ThreadsGuard restore;
  set_num_threads(2);
  Generator gen(25);
  Experts experts(2, {.dim = 6, .hidden_mult = 2.0}, gen);
  REQUIRE(can_group_experts(experts));
  // A net whose parameters sit at the very paths the geglu kind declares, but which is not one.
  auto swapped = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Layer>>{
      std::make_shared<nn::Linear>(6, 16, true, gen), std::make_shared<nn::SwiGLU>(8),
      std::make_shared<nn::Linear>(8, 6, true, gen)});
  experts[1].net = swapped;
  // Before: named_parameters() still listed the old net, so the optimizer never saw this one.
  const auto params = experts.named_parameters();
  bool found = false;
  for (const auto& [name, p] : params)
    if (name == "experts.1.net.0.weight") found = p.same(swapped->named_parameters().front().second);
  CHECK(found);
  CHECK(names(params).size() == 5 + 4);  // the geglu expert's 5, the new net's 4
  CHECK_FALSE(can_group_experts(experts));
  Tensor x = randn({3, 6}, gen);
  CHECK(experts[1].forward(x).to_vector<float>() == swapped->forward(x).to_vector<float>());
  // A state dict of the new structure loads into it by the new names.
  experts[1].load_state_dict(experts[1].state_dict());
}

TEST_CASE("a program registers an expert kind of its own and builds MoE layers of it", "[moe]") {
  static bool registered = false;
  if (!registered) {
    register_expert_kind({
        .name = "test_relu_mlp",
        .doc = "Linear(d, d * hidden_mult) -> ReLU -> Linear(., d)",
        .hidden = [](const ExpertOptions& o) { return static_cast<int64_t>(o.dim * o.hidden_mult); },
        .layers =
            [](const ExpertOptions& o, Generator& gen, DType dt) {
              const int64_t h = static_cast<int64_t>(o.dim * o.hidden_mult);
              return std::vector<std::shared_ptr<nn::Layer>>{std::make_shared<nn::Linear>(o.dim, h, true, gen, dt),
                                                             std::make_shared<nn::ReLU>(),
                                                             std::make_shared<nn::Linear>(h, o.dim, false, gen, dt)};
            },
        .parameter_count =
            [](const ExpertOptions& o) {
              const double d = static_cast<double>(o.dim), h = std::floor(d * o.hidden_mult);
              return d * h + h + h * d;
            },
        .activations_per_token = [](const ExpertOptions& o) { return 2 * std::floor(o.dim * o.hidden_mult) + o.dim; },
        .grouped = nullptr});
    registered = true;
  }
  ExpertKind nameless = find_expert_kind("geglu");
  nameless.name = "";
  CHECK_THROWS_WITH(register_expert_kind(nameless), Catch::Contains("needs"));
  const auto kinds = expert_kind_names();
  CHECK(std::find(kinds.begin(), kinds.end(), "test_relu_mlp") != kinds.end());
  Generator gen(26);
  MoEOptions o;
  o.dim = 8;
  o.num_experts = 3;
  o.expert_kind = "test_relu_mlp";
  MoE layer(o, gen, DType::f64);
  CHECK(moe_parameter_count(o) == static_cast<double>(layer.num_parameters()));
  GatingCall call;
  call.gen = &gen;
  CHECK(layer.forward(randn({1, 6, 8}, gen, DType::f64), call).outputs.shape() == Shape{1, 6, 8});
  o.expert_kind = "no_such_kind";
  try {
    o.validate();
    FAIL("an unknown kind was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "expert_kind");
    CHECK_THAT(e.message(), Catch::Contains("no_such_kind") && Catch::Contains("swiglu") &&
                                Catch::Contains("test_relu_mlp"));
  }
}

TEST_CASE("parameter counts from options equal the built experts' for every shipped kind", "[moe]") {
  Generator gen(27);
  for (const char* kind : {"geglu", "swiglu", "mlp"})
    for (bool prenorm : {false, true}) {
      const ExpertOptions o{.dim = 10, .hidden_mult = 3.3, .prenorm = prenorm, .kind = kind};
      INFO(kind << " prenorm=" << prenorm);
      CHECK(expert_parameter_count(o) == static_cast<double>(Expert(o, gen).num_parameters()));
    }
}
