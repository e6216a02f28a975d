// Module bookkeeping: PyTorch's parameter names and order, strict loading, modes.
#include <catch2/catch.hpp>

#include "moegrad/autograd/autograd.h"
#include "moegrad/nn/nn.h"

using namespace moegrad;
using namespace moegrad::nn;

namespace {
std::vector<std::string> names(const NamedTensors& v) {
  std::vector<std::string> out;
  for (auto& [n, t] : v) out.push_back(n);
  return out;
}

// Mirrors a small torch model: net = Sequential(Linear(4, 8), ReLU(), Linear(8, 2, bias=False))
// plus a LayerNorm and a list of two Linears.
class Toy : public Module {
 public:
  explicit Toy(Generator& gen) {
    register_module("net", net, std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
                                     std::make_shared<Linear>(4, 8, true, gen),
                                     std::make_shared<ReLU>(),
                                     std::make_shared<Linear>(8, 2, false, gen)}));
    register_module("norm", norm, std::make_shared<LayerNorm>(2));
    register_module("heads", heads, std::make_shared<ModuleList<Linear>>());
    heads->push_back(std::make_shared<Linear>(2, 3, true, gen));
    heads->push_back(std::make_shared<Linear>(2, 1, true, gen));
    scale = ones({1});
    register_buffer("scale", scale);
  }
  std::string type_name() const override { return "Toy"; }
  std::shared_ptr<Sequential> net;
  std::shared_ptr<LayerNorm> norm;
  std::shared_ptr<ModuleList<Linear>> heads;
  Tensor scale;
};
}  // namespace

TEST_CASE("parameter names and order follow torch's state_dict", "[nn]") {
  Generator gen(0);
  Toy m(gen);
  // torch: [k for k in Toy().state_dict()] with the same registration order.
  CHECK(names(m.named_parameters()) ==
        std::vector<std::string>{"net.0.weight", "net.0.bias", "net.2.weight", "norm.weight",
                                 "norm.bias", "heads.0.weight", "heads.0.bias", "heads.1.weight",
                                 "heads.1.bias"});
  std::vector<std::string> sd;
  for (auto& [n, t] : m.state_dict()) sd.push_back(n);
  CHECK(sd == std::vector<std::string>{"scale", "net.0.weight", "net.0.bias", "net.2.weight",
                                       "norm.weight", "norm.bias", "heads.0.weight",
                                       "heads.0.bias", "heads.1.weight", "heads.1.bias"});
  CHECK(m.num_parameters() == 4 * 8 + 8 + 8 * 2 + 2 + 2 + 2 * 3 + 3 + 2 + 1);
  for (const Tensor& p : m.parameters()) CHECK(requires_grad(p));
  CHECK_FALSE(requires_grad(m.scale));
}

TEST_CASE("state dict round trip restores every value", "[nn]") {
  Generator g1(1), g2(2);
  Toy a(g1), b(g2);
  CHECK(a.net->operator[](0)->parameters()[0].to_vector<float>() !=
        b.net->operator[](0)->parameters()[0].to_vector<float>());
  b.load_state_dict(a.state_dict());
  auto sa = a.state_dict(), sb = b.state_dict();
  for (auto& [name, t] : sa) {
    INFO(name);
    CHECK(t.to_vector<double>() == sb.at(name).to_vector<double>());
  }
  // Loading writes into the registered tensors: forward sees the new values.
  Tensor x = ones({1, 4});
  CHECK(a.net->forward(x).to_vector<float>() == b.net->forward(x).to_vector<float>());
}

TEST_CASE("strict load names every missing, unexpected and mis-shaped key", "[nn]") {
  Generator gen(0);
  Toy m(gen);
  StateDict sd = m.state_dict();
  StateDict bad;
  for (auto& [n, t] : sd) {
    if (n == "norm.bias") continue;                       // missing
    if (n == "heads.1.weight") bad.set(n, zeros({5, 2}));  // wrong shape
    else bad.set(n, t);
  }
  bad.set("extra.weight", zeros({1}));  // unexpected
  try {
    m.load_state_dict(bad);
    FAIL("load_state_dict accepted a broken state dict");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("missing keys: norm.bias"));
    CHECK_THAT(msg, Catch::Contains("unexpected keys: extra.weight"));
    CHECK_THAT(msg, Catch::Contains("heads.1.weight (checkpoint [5, 2], model [1, 2])"));
  }
  // Non-strict tolerates missing/unexpected keys, never a shape mismatch.
  StateDict partial;
  partial.set("norm.bias", full({2}, 3.0));
  partial.set("other", zeros({1}));
  m.load_state_dict(partial, /*strict=*/false);
  CHECK(m.norm->bias.to_vector<float>() == std::vector<float>{3, 3});
  CHECK_THROWS_WITH(m.load_state_dict(bad, /*strict=*/false), Catch::Contains("heads.1.weight"));
}

TEST_CASE("train and eval reach every submodule; zero_grad clears grads", "[nn]") {
  Generator gen(0);
  Toy m(gen);
  m.eval();
  CHECK_FALSE(m.is_training());
  CHECK_FALSE(m.net->operator[](1)->is_training());
  CHECK_FALSE(m.heads->operator[](1).is_training());
  m.train();
  CHECK(m.heads->operator[](1).is_training());

  Tensor y = m.heads->operator[](0).forward(m.norm->forward(m.net->forward(ones({3, 4}))));
  backward(sum(y));
  CHECK(grad(m.net->operator[](0)->parameters()[0]).defined());
  m.zero_grad();
  for (const Tensor& p : m.parameters()) CHECK_FALSE(grad(p).defined());
}

TEST_CASE("to(dtype) converts parameters and keeps them trainable", "[nn]") {
  Generator gen(0);
  Toy m(gen);
  m.to(DType::f64);
  for (auto& [n, p] : m.named_parameters()) {
    INFO(n);
    CHECK(p.dtype() == DType::f64);
    CHECK(requires_grad(p));
  }
  CHECK(m.scale.dtype() == DType::f64);
  Tensor y = m.net->forward(ones({1, 4}, DType::f64));
  CHECK(y.dtype() == DType::f64);
}

TEST_CASE("the module tree prints like torch", "[nn]") {
  Generator gen(0);
  Toy m(gen);
  const std::string r = m.repr();
  CHECK_THAT(r, Catch::Contains("(net): Sequential(\n    (0): Linear(in_features=4, out_features=8, bias=True)\n    (1): ReLU()"));
  CHECK_THAT(r, Catch::Contains("(2): Linear(in_features=8, out_features=2, bias=False)"));
  CHECK_THAT(r, Catch::Contains("(norm): LayerNorm((2,), eps=1e-05, elementwise_affine=True)"));
}

TEST_CASE("registering a name twice is an error naming it", "[nn]") {
  class Twice : public Module {
   public:
    Twice() {
      w = zeros({1});
      register_parameter("w", w);
      register_parameter("w", w);
    }
    std::string type_name() const override { return "Twice"; }
    Tensor w;
  };
  CHECK_THROWS_WITH(Twice(), Catch::Contains("'w' is registered twice"));
}
