// CausalSelfAttention: gradcheck in float64, causality, values against PyTorch 1.13 and
// argument errors. Shape letters: b batch, n tokens, d dim.
#include <catch2/catch.hpp>

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/nn/attention.h"

using namespace moegrad;
using namespace moegrad::nn;

namespace {
// ((i * mult) % mod - shift) / scale for i in [0, count): the same formula builds the
// inputs of the torch reference, so no random stream has to agree across libraries.
Tensor seq(const Shape& shape, int64_t mult, int64_t mod, int64_t shift, double scale,
           DType dtype = DType::f64) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<double>((static_cast<int64_t>(i) * mult) % mod - shift) / scale;
  return from_vector(v, shape, dtype);
}
}  // namespace

TEST_CASE("CausalSelfAttention: parameters named to_qkv.weight and to_out.weight",
          "[nn][attention]") {
  Generator gen(0);
  CausalSelfAttention attn(8, 2, gen);
  StateDict sd = attn.state_dict();
  CHECK(sd.size() == 2);
  CHECK(sd.contains("to_qkv.weight"));
  CHECK(sd.contains("to_out.weight"));
  auto named = attn.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "to_qkv.weight");
  CHECK(named[0].second.shape() == Shape{24, 8});
  CHECK(named[1].first == "to_out.weight");
  CHECK(named[1].second.shape() == Shape{8, 8});
  CHECK(attn.dim_head == 4);
  CHECK(attn.forward(randn({3, 5, 8}, gen)).shape() == Shape{3, 5, 8});
}

TEST_CASE("CausalSelfAttention: gradcheck w.r.t. x and both weights",
          "[nn][attention][gradcheck]") {
  Generator gen(3);
  CausalSelfAttention attn(6, 2, gen, DType::f64);
  Tensor x = requires_grad_(randn({2, 4, 6}, gen, DType::f64));
  TensorList inputs{x, attn.to_qkv->weight, attn.to_out->weight};
  GradcheckReport r = gradcheck([&](const TensorList& in) { return attn.forward(in[0]); }, inputs);
  INFO(r);
  CHECK(r.ok);
  CHECK(r.checked == 2 * 4 * 6 * (2 * 4 * 6 + 18 * 6 + 6 * 6));
}

TEST_CASE("CausalSelfAttention: a token changes outputs at its position and later only",
          "[nn][attention]") {
  Generator gen(5);
  const int64_t b = 2, n = 5, d = 8;
  CausalSelfAttention attn(d, 4, gen, DType::f64);
  Tensor x = randn({b, n, d}, gen, DType::f64);
  std::vector<double> base = attn.forward(x).to_vector<double>();
  for (int64_t j = 0; j < n; ++j) {
    Tensor x2 = core::clone(x);
    core::copy_(core::narrow(x2, 1, j, 1), randn({b, 1, d}, gen, DType::f64));
    std::vector<double> out = attn.forward(x2).to_vector<double>();
    for (int64_t bi = 0; bi < b; ++bi) {
      for (int64_t i = 0; i < n; ++i) {
        double change = 0;
        for (int64_t c = 0; c < d; ++c) {
          size_t at = static_cast<size_t>((bi * n + i) * d + c);
          change = std::max(change, std::abs(out[at] - base[at]));
        }
        INFO("changed token " << j << ", batch " << bi << ", position " << i);
        if (i < j)
          CHECK(change == 0.0);
        else
          CHECK(change > 1e-6);
      }
    }
  }
}

TEST_CASE("CausalSelfAttention: values match torch 1.13", "[nn][attention]") {
  // Printed by torch 1.13 (float64) for the same x, W_qkv and W_out, with attention
  // written out as q @ k.T / sqrt(dh), torch.where(tril mask, s, -inf), softmax, @ v.
  const std::vector<double> want{
      0.32500000000000001,  2.0150000000000001,   -1.7550000000000001,  -0.97500000000000009,
      0.17475541462496863,  0.62638673652659627,  -0.62533862793303097, -0.13664009059344567,
      0.24324732925796794,  0.48544873038653302,  -0.40166162047285175, -0.30913239579880547,
      -0.039999999999999959, -1.085,              0.70500000000000007,  0.88500000000000001,
      0.35022999646203257,  -0.10384061022036246, 0.056791503091044158, -0.0078541628334101721,
      -0.42549309392132906, -0.27402857097774824, 0.25893814359944362,  0.17938604038569372};
  const int64_t b = 2, n = 3, d = 4;
  for (DType dtype : {DType::f64, DType::f32}) {
    const double tol = dtype == DType::f64 ? 1e-12 : 1e-5;
    Generator gen(0);
    CausalSelfAttention attn(d, 2, gen, dtype);
    core::copy_(attn.to_qkv->weight, seq({3 * d, d}, 5, 13, 6, 10.0, dtype));
    core::copy_(attn.to_out->weight, seq({d, d}, 3, 7, 3, 5.0, dtype));
    Tensor y = attn.forward(seq({b, n, d}, 7, 11, 5, 4.0, dtype));
    CHECK(y.dtype() == dtype);
    std::vector<double> got = y.to_vector<double>();
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      INFO(dtype << " element " << i);
      CHECK(got[i] == Approx(want[i]).margin(tol).epsilon(tol));
    }
  }
}

TEST_CASE("CausalSelfAttention: errors name the argument and the shapes", "[nn][attention]") {
  Generator gen(0);
  CHECK_THROWS_MATCHES(
      CausalSelfAttention(6, 4, gen), ConfigError,
      Catch::Matchers::Predicate<ConfigError>(
          [](const ConfigError& e) { return e.key() == "heads"; }, "key is heads"));
  CHECK_THROWS_WITH(CausalSelfAttention(6, 4, gen),
                    Catch::Contains("heads") && Catch::Contains("dim=6"));
  CHECK_THROWS_WITH(CausalSelfAttention(6, 0, gen), Catch::Contains("heads"));
  CHECK_THROWS_WITH(CausalSelfAttention(0, 1, gen), Catch::Contains("dim"));
  CausalSelfAttention attn(6, 2, gen);
  CHECK_THROWS_WITH(attn.forward(zeros({2, 4, 5})), Catch::Contains("CausalSelfAttention") &&
                                                        Catch::Contains("[2, 4, 5]") &&
                                                        Catch::Contains("dim=6"));
  CHECK_THROWS_WITH(attn.forward(zeros({4, 6})), Catch::Contains("[4, 6]"));
  CHECK_THROWS_AS(attn.forward(zeros({4, 6})), Error);
}
