// The fused kernels against finite differences and against the composites they replace.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/autograd.h"
#include "core/core.h"

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
