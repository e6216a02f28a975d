// Layers and losses: gradchecks in float64, values against PyTorch 1.13 (numbers printed by
// torch for the same inputs), and input errors.
#include <catch2/catch.hpp>

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/nn/nn.h"

using namespace moegrad;
using namespace moegrad::nn;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == Approx(want[i]).margin(tol).epsilon(tol));
  }
}

// A layer's gradcheck: input and every parameter, in float64.
void gradcheck_layer(Layer& layer, const Tensor& x_in) {
  layer.to(DType::f64);
  Tensor x = requires_grad_(x_in);
  TensorList inputs{x};
  for (const Tensor& p : layer.parameters()) inputs.push_back(p);
  GradcheckReport r = gradcheck([&](const TensorList& in) { return layer.forward(in[0]); }, inputs);
  INFO(layer.type_name() << ": " << r);
  CHECK(r.ok);
}

const Tensor kX = tensor({0.3, -1.2, 2.0, 0.7, 1.5, 0.1, -0.4, -2.2}, {2, 4});
}  // namespace

TEST_CASE("Linear: gradcheck, shapes and torch's init bound", "[nn][gradcheck]") {
  Generator gen(0);
  Linear with_bias(4, 3, true, gen), no_bias(4, 3, false, gen);
  gradcheck_layer(with_bias, randn({2, 5, 4}, gen, DType::f64));
  gradcheck_layer(no_bias, randn({4}, gen, DType::f64));
  Linear big(100, 50, true, gen);
  for (double w : values(big.weight)) CHECK(std::abs(w) <= 0.1);
  CHECK_THROWS_WITH(big.forward(zeros({2, 7})), Catch::Contains("[2, 7]") && Catch::Contains("in_features=100"));
}

TEST_CASE("activations: gradcheck and values against torch", "[nn][gradcheck]") {
  Generator gen(1);
  ReLU relu_layer;
  GELU gelu_layer;
  SiLU silu_layer;
  Tensor x = randn({3, 4}, gen, DType::f64) + 0.05;  // away from relu's kink
  gradcheck_layer(relu_layer, x);
  gradcheck_layer(gelu_layer, x);
  gradcheck_layer(silu_layer, x);
  // F.gelu / F.silu of kX, printed by torch 1.13.
  check_close(values(gelu_layer.forward(kX)),
              {0.1853734266566858, -0.13808360426604993, 1.9544997361036416, 0.53062544344384888,
               1.399789198096713, 0.053982783727702904, -0.13783130335587032, -0.030587584529696902});
  check_close(values(silu_layer.forward(kX)),
              {0.17233275504349771, -0.27777025980117881, 1.7615941559557646, 0.46773144051771626,
               1.2263617142904655, 0.052497918747894001, -0.16052493595501921, -0.21945107606330733});
}

TEST_CASE("LayerNorm: gradcheck and values against torch", "[nn][gradcheck]") {
  LayerNorm ln(4, 1e-5, true, DType::f64);
  core::copy_(ln.weight, tensor({1.0, 0.5, -2.0, 1.5}));
  core::copy_(ln.bias, tensor({0.1, 0.2, 0.3, 0.4}));
  check_close(values(ln.forward(kX)),
              {-0.031431881765491249, -0.52287534971020211, -2.4162588898201536, 0.72857970441372832,
               1.421927984007082, 0.3321927984007082, 0.52661622582978551, -1.8095082018404085},
              1e-10);
  Generator gen(2);
  gradcheck_layer(ln, randn({3, 4}, gen, DType::f64));
  LayerNorm plain(4, 1e-5, false);
  CHECK(plain.parameters().empty());
  gradcheck_layer(plain, randn({2, 4}, gen, DType::f64));
}

TEST_CASE("RMSNorm: unit-norm rows times sqrt(dim) * gamma, gradcheck", "[nn][gradcheck]") {
  RMSNorm norm(4, DType::f64);
  Tensor y = norm.forward(kX);
  // Each output row has norm sqrt(dim) when gamma = 1.
  for (double n : values(sqrt(sum(y * y, {-1})))) CHECK(n == Approx(2.0));
  CHECK(values(norm.forward(zeros({1, 4}, DType::f64))) == std::vector<double>{0, 0, 0, 0});
  Generator gen(3);
  core::copy_(norm.gamma, randn({4}, gen, DType::f64));
  gradcheck_layer(norm, randn({2, 3, 4}, gen, DType::f64));
}

TEST_CASE("Embedding: rows by index, gradient accumulates on repeats", "[nn][gradcheck]") {
  Generator gen(4);
  Embedding emb(5, 3, gen, DType::f64);
  Tensor idx = from_vector(std::vector<int64_t>{4, 0, 4, 2}, {2, 2});
  Tensor y = emb.forward(idx);
  CHECK(y.shape() == Shape{2, 2, 3});
  CHECK(values(narrow(y, 0, 0, 1)) ==
        [&] {
          auto r4 = values(narrow(emb.weight, 0, 4, 1)), r0 = values(narrow(emb.weight, 0, 0, 1));
          r4.insert(r4.end(), r0.begin(), r0.end());
          return r4;
        }());
  backward(sum(y));
  CHECK(values(grad(emb.weight)) ==
        std::vector<double>{1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2});
  GradcheckReport r = gradcheck([&](const TensorList& in) {
    (void)in;
    return emb.forward(idx);
  }, {emb.weight});
  INFO(r);
  CHECK(r.ok);
  CHECK_THROWS_WITH(emb.forward(from_vector(std::vector<int64_t>{5})), Catch::Contains("out of range"));
}

TEST_CASE("GEGLU: gelu(gate) * x * mult_bias with halves (x, gate)", "[nn][gradcheck]") {
  GEGLU g(2, true, DType::f64);
  Tensor x = tensor({1.0, 2.0, 0.5, -1.0}, {1, 4});  // x = [1, 2], gate = [0.5, -1]
  std::vector<double> want = {1.0 * 0.5 * 0.5 * (1 + std::erf(0.5 / std::sqrt(2.0))),
                              2.0 * -1.0 * 0.5 * (1 + std::erf(-1.0 / std::sqrt(2.0)))};
  check_close(values(g.forward(x)), want);
  Generator gen(5);
  core::copy_(g.mult_bias, randn({2}, gen, DType::f64));
  gradcheck_layer(g, randn({3, 4}, gen, DType::f64));
  CHECK_THROWS_WITH(g.forward(zeros({1, 3})), Catch::Contains("2 * dim = 4"));
}

TEST_CASE("Dropout: seeded masks, scaling, identity in eval", "[nn][gradcheck]") {
  Generator g1(7), g2(7);
  Dropout d1(0.5, g1), d2(0.5, g2);
  Tensor x = ones({1000}, DType::f64);
  std::vector<double> a = values(d1.forward(x)), b = values(d2.forward(x));
  CHECK(a == b);  // same seed, same mask
  int64_t kept = 0;
  for (double v : a) {
    CHECK((v == 0.0 || v == 2.0));
    kept += v != 0.0;
  }
  CHECK(kept > 400);
  CHECK(kept < 600);
  d1.eval();
  CHECK(values(d1.forward(x)) == values(x));
  CHECK_THROWS_WITH(Dropout(1.5, g1), Catch::Contains("p must be in [0, 1]"));
  // Gradcheck with the mask held fixed: a fresh generator of one seed per call.
  Tensor in = requires_grad_(randn({2, 3}, g1, DType::f64));
  GradcheckReport r = gradcheck([](const TensorList& t) {
    Generator g(11);
    Dropout d(0.3, g);
    return d.forward(t[0]);
  }, {in});
  INFO(r);
  CHECK(r.ok);
}

TEST_CASE("mse_loss: value, reductions and gradcheck", "[nn][gradcheck]") {
  CHECK(mse_loss(kX, full({2, 4}, 0.5, DType::f64)).item<double>() == Approx(1.81));  // torch
  CHECK(mse_loss(kX, kX, Reduction::sum).item<double>() == 0.0);
  Generator gen(6);
  Tensor a = requires_grad_(randn({3, 2}, gen, DType::f64));
  Tensor b = requires_grad_(randn({3, 2}, gen, DType::f64));
  GradcheckReport r = gradcheck([](const TensorList& in) { return mse_loss(in[0], in[1]); }, {a, b});
  INFO(r);
  CHECK(r.ok);
  CHECK_THROWS_WITH(mse_loss(a, zeros({2, 3}, DType::f64)), Catch::Contains("[3, 2]"));
}

TEST_CASE("cross_entropy: torch's value and gradient with ignore_index", "[nn][gradcheck]") {
  Tensor logits = requires_grad_(tensor({2.0, -1.0, 0.5, 0.1, 0.2, 0.3, -3.0, 4.0, 1.0, 1.0, 1.0, 1.0}, {4, 3}));
  Tensor target = from_vector(std::vector<int64_t>{0, 2, -100, 1});
  Tensor loss = cross_entropy(logits, target);
  CHECK(loss.item<double>() == Approx(0.78062214451817036).epsilon(1e-12));
  backward(loss);
  check_close(values(grad(logits)),
              {-0.071467655136908032, 0.013037524423562482, 0.05843013071334556, 0.10020320178524245,
               0.11074166451111578, -0.21094486629635817, 0, 0, 0, 0.1111111111111111,
               -0.22222222222222221, 0.1111111111111111});
  CHECK(cross_entropy(logits, target, -100, Reduction::sum).item<double>() ==
        Approx(2.341866433554511).epsilon(1e-12));
  CHECK(std::isnan(cross_entropy(logits, full({4}, -100, DType::i64)).item<double>()));
  // Stable for huge logits: log_softmax, not log(softmax).
  Tensor huge = tensor({1e4, 0.0, -1e4}, {1, 3});
  CHECK(cross_entropy(huge, from_vector(std::vector<int64_t>{1})).item<double>() == Approx(1e4));
  CHECK_THROWS_WITH(cross_entropy(logits, from_vector(std::vector<int64_t>{0, 3, 1, 1})),
                    Catch::Contains("target 3 is outside [0, 3)"));
  CHECK_THROWS_WITH(cross_entropy(logits, from_vector(std::vector<int64_t>{0, 1})),
                    Catch::Contains("[4, 3]"));
  Generator gen(8);
  Tensor l3 = requires_grad_(randn({2, 3, 5}, gen, DType::f64));
  Tensor t3 = from_vector(std::vector<int64_t>{4, 0, -100, 2, 2, 1}, {2, 3});
  GradcheckReport r = gradcheck([&](const TensorList& in) { return cross_entropy(in[0], t3); }, {l3});
  INFO(r);
  CHECK(r.ok);
}

TEST_CASE("init helpers follow torch.nn.init's bounds and spreads", "[nn]") {
  Generator gen(9);
  Tensor w = empty({200, 300}, DType::f64);
  init::kaiming_uniform_(w, gen);
  const double bound = std::sqrt(3.0) * std::sqrt(2.0 / 300.0);
  double sq = 0;
  for (double v : values(w)) {
    CHECK(std::abs(v) <= bound);
    sq += v * v;
  }
  CHECK(std::sqrt(sq / w.numel()) == Approx(std::sqrt(2.0 / 300.0)).epsilon(0.02));
  init::xavier_normal_(w, gen);
  sq = 0;
  for (double v : values(w)) sq += v * v;
  CHECK(std::sqrt(sq / w.numel()) == Approx(std::sqrt(2.0 / 500.0)).epsilon(0.02));
  init::constant_(w, 0.25);
  CHECK(values(w)[123] == 0.25);
  CHECK(init::fans(empty({4, 3, 5})) == std::pair<int64_t, int64_t>{15, 20});
}
