#include "moegrad/train/mlp_demo.h"

#include <cmath>

#include <fmt/format.h>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::train {

MlpDemoResult run_mlp_demo(const MlpDemoOptions& opt, std::ostream& log) {
  // n samples, d_in features, h hidden units
  constexpr int64_t n = 256, d_in = 8, h = 32;
  Generator gen(opt.seed);
  // Target: a smooth nonlinear map plus an interaction term, so a linear fit is not enough.
  Tensor x = randn({n, d_in}, gen);
  Tensor w_true = randn({d_in, 1}, gen);
  Tensor y = tanh(matmul(x, w_true)) + 0.5 * narrow(x, 1, 0, 1) * narrow(x, 1, 1, 1);

  // PyTorch's nn.Linear initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  const double a1 = 1.0 / std::sqrt(double(d_in)), a2 = 1.0 / std::sqrt(double(h));
  TensorList params = {
      requires_grad_(uniform({d_in, h}, -a1, a1, gen)), requires_grad_(uniform({h}, -a1, a1, gen)),
      requires_grad_(uniform({h, 1}, -a2, a2, gen)), requires_grad_(uniform({1}, -a2, a2, gen))};
  const Tensor &w1 = params[0], &b1 = params[1], &w2 = params[2], &b2 = params[3];

  MlpDemoResult result;
  log << fmt::format("mlp demo: {} samples, {} -> {} -> 1, SGD lr {}\n", n, d_in, h, opt.lr);
  for (int64_t step = 0; step < opt.steps; ++step) {
    Tensor pred = matmul(relu(matmul(x, w1) + b1), w2) + b2;
    Tensor diff = pred - y;
    Tensor loss = mean(diff * diff);
    backward(loss);
    {
      NoGradGuard no_grad;
      for (const Tensor& p : params) {
        core::binary_(BinaryOp::sub, p, grad(p) * opt.lr);
        zero_grad(p);
      }
    }
    const double value = loss.item<double>();
    if (step == 0) result.first_loss = value;
    result.final_loss = value;
    if (step % opt.log_every == 0 || step + 1 == opt.steps)
      log << fmt::format("step {:4d}  loss {:.6f}\n", step, value);
  }
  return result;
}

}  // namespace moegrad::train
