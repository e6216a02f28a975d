#include "squared_relu.h"

#include <cmath>
#include <limits>

#include "moegrad/core/core.h"
#include "moegrad/nn/linear.h"

namespace custom {

using namespace moegrad;

namespace {
struct SquaredReLUOp {
  Tensor forward(OpContext& ctx, const Tensor& x) {
    Tensor r = core::clamp(x, 0.0, std::numeric_limits<double>::infinity());
    ctx.save(r);  // the backward needs relu(x), not x
    return core::binary(BinaryOp::mul, r, r);
  }
  TensorList backward(const OpContext& ctx, const Tensor& grad_y) { return {grad_y * (2.0 * ctx.saved(0))}; }
};

int64_t hidden(const moe::ExpertOptions& o) {
  return static_cast<int64_t>(std::floor(static_cast<double>(o.dim) * o.hidden_mult));
}
}  // namespace

Tensor squared_relu(const Tensor& x) { return apply<SquaredReLUOp>(x); }

moe::ExpertKind squared_relu_expert() {
  return {.name = "squared_relu",
          .doc = "Linear(d, h) -> SquaredReLU -> Linear(h, d), h = int(d * hidden_mult)",
          .hidden = hidden,
          .layers =
              [](const moe::ExpertOptions& o, Generator& gen, DType dtype) {
                const int64_t h = hidden(o);
                return std::vector<std::shared_ptr<nn::Layer>>{
                    std::make_shared<nn::Linear>(o.dim, h, /*bias=*/true, gen, dtype), std::make_shared<SquaredReLU>(),
                    std::make_shared<nn::Linear>(h, o.dim, /*bias=*/true, gen, dtype)};
              },
          .parameter_count =
              [](const moe::ExpertOptions& o) {
                const double d = static_cast<double>(o.dim), h = static_cast<double>(hidden(o));
                return (d * h + h) + (h * d + d);
              },
          .activations_per_token =
              [](const moe::ExpertOptions& o) {
                const double d = static_cast<double>(o.dim), h = static_cast<double>(hidden(o));
                return 3 * h + d;  // the projection, relu, its square, the output
              },
          .grouped = nullptr};
}

}  // namespace custom
