// The fused kernels against finite differences and against the composites they replace.
#include <catch2/catch.hpp>

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

using namespace moegrad;

TEST_CASE("geglu: gradcheck and equality with gelu(gate) * value", "[autograd][gradcheck]") {
  Generator gen(31);
  Tensor x = requires_grad_(randn({3, 8}, gen, DType::f64));
  Tensor xt = requires_grad_(core::transpose(randn({8, 3}, gen, DType::f64), 0, 1));  // non-contiguous
  for (const Tensor& input : {x, xt}) {
    GradcheckReport r = gradcheck([](const TensorList& in) { return geglu(in[0]); }, {input});
    INFO(r);
    CHECK(r.ok);
  }
  Tensor composite = gelu(narrow(x, 1, 4, 4)) * narrow(x, 1, 0, 4);
  auto a = geglu(x).to_vector<double>(), b = composite.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).margin(1e-15));
  CHECK_THROWS_WITH(geglu(zeros({2, 3}, DType::f64)), Catch::Contains("must be even"));
}

TEST_CASE("geglu with mult_bias: gradcheck of both inputs", "[autograd][gradcheck]") {
  Generator gen(33);
  Tensor x = requires_grad_(randn({3, 8}, gen, DType::f64));
  Tensor xt = requires_grad_(core::transpose(randn({8, 3}, gen, DType::f64), 0, 1));  // non-contiguous
  Tensor mb = requires_grad_(randn({4}, gen, DType::f64));
  for (const Tensor& input : {x, xt}) {
    GradcheckReport r = gradcheck([](const TensorList& in) { return geglu(in[0], in[1]); }, {input, mb});
    INFO(r);
    CHECK(r.ok);
  }
  // More rows than one block of the kernel: the mult_bias gradient is summed over blocks.
  Tensor tall = requires_grad_(randn({5000, 6}, gen, DType::f64));
  Tensor mb3 = requires_grad_(randn({3}, gen, DType::f64));
  backward(sum(geglu(tall, mb3)));
  Tensor want = sum(geglu(detach(tall)), {0});
  const auto got = grad(mb3).to_vector<double>(), expected = want.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(expected[i]).epsilon(1e-13));
  CHECK_THROWS_WITH(geglu(x, randn({3}, gen, DType::f64)), Catch::Contains("mult_bias of shape"));
}

TEST_CASE("fused mult_bias gives the bits of the unfused gelu(gate) * value * mult_bias", "[autograd]") {
  Generator gen(34);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = requires_grad_(randn({37, 10}, gen, dt)), mb = requires_grad_(randn({5}, gen, dt));
    Tensor g = randn({37, 5}, gen, dt);
    Tensor fused = geglu(x, mb);
    backward(fused, g);
    const auto dx_fused = grad(x).to_vector<double>(), dmb_fused = grad(mb).to_vector<double>();
    zero_grad(x);
    zero_grad(mb);
    Tensor composite = geglu(x) * mb;
    backward(composite, g);
    CHECK(fused.to_vector<double>() == composite.to_vector<double>());
    CHECK(dx_fused == grad(x).to_vector<double>());
    const auto dmb = grad(mb).to_vector<double>();
    for (size_t i = 0; i < dmb.size(); ++i) CHECK(dmb_fused[i] == Approx(dmb[i]).epsilon(1e-12));
  }
}

TEST_CASE("rms_normalize: gradcheck, zero rows, equality with x / max(norm, eps)", "[autograd][gradcheck]") {
  Generator gen(32);
  Tensor x = requires_grad_(randn({2, 3, 5}, gen, DType::f64));
  GradcheckReport r = gradcheck([](const TensorList& in) { return rms_normalize(in[0], 1e-12, 2.0); }, {x});
  INFO(r);
  CHECK(r.ok);
  // Rows below eps divide by eps: a linear map, gradient scale / eps.
  Tensor tiny = requires_grad_(full({1, 4}, 1e-3, DType::f64));
  GradcheckReport rt = gradcheck([](const TensorList& in) { return rms_normalize(in[0], 0.5, 3.0); }, {tiny});
  INFO(rt);
  CHECK(rt.ok);
  auto y = rms_normalize(x, 1e-12, 2.0).to_vector<double>();
  auto want = (x / norm(x, {-1}, true) * 2.0).to_vector<double>();
  for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == Approx(want[i]).margin(1e-15));
  Tensor zero = requires_grad_(zeros({1, 3}, DType::f64));
  Tensor out = rms_normalize(zero, 1e-12, 1.0);
  backward(sum(out));
  for (double v : out.to_vector<double>()) CHECK(v == 0.0);
  for (double v : grad(zero).to_vector<double>()) CHECK(std::isfinite(v));
}
