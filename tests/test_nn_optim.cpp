// Optimizers against trajectories printed by torch.optim (PyTorch 1.13, float64) for the
// same start and gradients: p0 = [0.5, -1, 2], g_t = [0.1 t + 0.3, -0.2, 0.05 t - 0.12].
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "moegrad/autograd/autograd.h"
#include "moegrad/nn/nn.h"

using namespace moegrad;
using namespace moegrad::nn;

namespace {
using Grads = std::function<std::vector<double>(int)>;

std::vector<double> default_grads(int t) { return {0.1 * t + 0.3, -0.2, 0.05 * t - 0.12}; }

template <typename Opt, typename Options>
std::vector<double> run(const Options& o, Grads grads = default_grads, int steps = 3) {
  Tensor p = requires_grad_(tensor({0.5, -1.0, 2.0}));
  Opt opt(NamedTensors{{"p", p}}, o);
  for (int t = 1; t <= steps; ++t) {
    set_grad(p, from_vector(grads(t)));
    opt.step();
  }
  return p.to_vector<double>();
}

void check_close(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == Approx(want[i]).epsilon(1e-14).margin(1e-15));
  }
}
}  // namespace

TEST_CASE("SGD matches torch: plain, momentum + dampening + weight decay, nesterov", "[nn][optim]") {
  check_close(run<SGD>(SGDOptions{.lr = 0.1}),
              {0.35000000000000003, -0.93999999999999995, 2.0059999999999998});
  check_close(run<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01}),
              {0.24961938219499999, -0.88836881298999992, 2.0090329040499997});
  check_close(run<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.05, .nesterov = true}),
              {0.095946162312499972, -0.80050921312500001, 1.9436013555749998});
  Tensor p = requires_grad_(tensor({1.0}));
  CHECK_THROWS_WITH(SGD(NamedTensors{{"p", p}}, SGDOptions{.nesterov = true}),
                    Catch::Contains("nesterov needs momentum > 0"));
}

TEST_CASE("Adam and AdamW match torch", "[nn][optim]") {
  check_close(run<Adam>(AdamOptions{.lr = 0.01}),
              {0.46999722663521804, -0.9700000015000001, 2.0221172399590839});
  check_close(run<Adam>(AdamOptions{.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1}),
              {0.46979962492856009, -0.97000663244835461, 1.9698217194366447});
  check_close(run<AdamW>(AdamOptions{.lr = 0.01, .weight_decay = 0.1}),
              {0.46852871254485723, -0.96703299049850056, 2.0160947601896275});
  // Shrinking gradients, where amsgrad's running max differs from v.
  check_close(run<Adam>(AdamOptions{.lr = 0.01, .amsgrad = true},
                        [](int t) { return std::vector<double>{1.0 / (t * t), -0.5 / t, 0.3}; }),
              {0.47462524124442662, -0.97194661902369406, 1.9700000010000001});
  Tensor p = requires_grad_(tensor({1.0}));
  CHECK_THROWS_WITH(Adam(NamedTensors{{"p", p}}, AdamOptions{.beta1 = 1.0}), Catch::Contains("beta1"));
}

TEST_CASE("a parameter without a gradient is skipped, as torch does", "[nn][optim]") {
  Tensor a = requires_grad_(tensor({1.0})), b = requires_grad_(tensor({1.0}));
  AdamW opt(NamedTensors{{"a", a}, {"b", b}}, AdamOptions{.lr = 0.1, .weight_decay = 0.5});
  set_grad(a, tensor({1.0}));
  opt.step();
  CHECK(b.item<double>() == 1.0);  // no decay either
  CHECK(a.item<double>() != 1.0);
  CHECK_FALSE(opt.state_dict().contains("b.step"));
}

TEST_CASE("optimizer state round trip continues the same trajectory", "[nn][optim]") {
  auto make = [](const Tensor& p) {
    return AdamW(NamedTensors{{"w", p}}, AdamOptions{.lr = 0.05, .weight_decay = 0.01});
  };
  Tensor p1 = requires_grad_(tensor({0.5, -1.0, 2.0}));
  AdamW o1 = make(p1);
  for (int t = 1; t <= 2; ++t) {
    set_grad(p1, from_vector(default_grads(t)));
    o1.step();
  }
  Tensor p2 = requires_grad_(from_vector(p1.to_vector<double>()));
  AdamW o2 = make(p2);
  o2.load_state_dict(parse_safetensors(serialize_safetensors(o1.state_dict()), "state").tensors);
  for (int t = 3; t <= 4; ++t) {
    set_grad(p1, from_vector(default_grads(t)));
    set_grad(p2, from_vector(default_grads(t)));
    o1.step();
    o2.step();
  }
  CHECK(p1.to_vector<double>() == p2.to_vector<double>());
  StateDict bad;
  bad.set("nope.exp_avg", zeros({3}, DType::f64));
  CHECK_THROWS_WITH(o2.load_state_dict(bad), Catch::Contains("'nope.exp_avg' names no parameter"));
  StateDict wrong_shape;
  wrong_shape.set("w.exp_avg", zeros({2}, DType::f64));
  CHECK_THROWS_WITH(o2.load_state_dict(wrong_shape), Catch::Contains("'w.exp_avg' has shape [2]"));
}

TEST_CASE("clip_grad_norm_ matches torch", "[nn][optim]") {
  Tensor a = requires_grad_(zeros({2}, DType::f64)), b = requires_grad_(zeros({3}, DType::f64));
  Tensor c = requires_grad_(zeros({1}, DType::f64));  // no grad: ignored
  set_grad(a, tensor({3.0, 4.0}));
  set_grad(b, tensor({1.0, 2.0, 2.0}));
  const double norm = clip_grad_norm_({a, b, c}, 1.0);
  CHECK(norm == Approx(5.8309518948453007).epsilon(1e-15));
  std::vector<double> got = grad(a).to_vector<double>(), gb = grad(b).to_vector<double>();
  got.insert(got.end(), gb.begin(), gb.end());
  check_close(got, {0.51449566719224749, 0.68599422292299661, 0.17149855573074915,
                    0.34299711146149831, 0.34299711146149831});
  // Below the limit nothing changes.
  const double again = clip_grad_norm_({a, b}, 10.0);
  CHECK(again == Approx(1.0).epsilon(1e-6));
  check_close(grad(a).to_vector<double>(), {0.51449566719224749, 0.68599422292299661});
}

TEST_CASE("learning-rate schedules", "[nn][optim]") {
  LrSchedule constant{.kind = LrScheduleKind::constant, .base_lr = 0.1};
  CHECK(constant.lr_at(0) == 0.1);
  CHECK(constant.lr_at(1000) == 0.1);

  LrSchedule cosine{.kind = LrScheduleKind::warmup_cosine, .base_lr = 1.0, .warmup_steps = 4,
                    .total_steps = 14, .min_lr = 0.1};
  CHECK(cosine.lr_at(0) == 0.25);  // warmup: (step + 1) / warmup
  CHECK(cosine.lr_at(3) == 1.0);
  CHECK(cosine.lr_at(4) == 1.0);                      // cosine starts at the peak
  CHECK(cosine.lr_at(9) == Approx(0.55));             // half way: (1 + 0.1) / 2
  CHECK(cosine.lr_at(14) == Approx(0.1));             // floor
  CHECK(cosine.lr_at(100) == Approx(0.1));
  for (int64_t s = 4; s < 14; ++s) CHECK(cosine.lr_at(s + 1) <= cosine.lr_at(s));

  LrSchedule step{.kind = LrScheduleKind::step, .base_lr = 1.0, .step_size = 3, .gamma = 0.5};
  CHECK(step.lr_at(2) == 1.0);
  CHECK(step.lr_at(3) == 0.5);
  CHECK(step.lr_at(7) == 0.25);

  LrSchedule bad{.kind = LrScheduleKind::warmup_cosine, .base_lr = 0.1, .min_lr = 0.5};
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("min_lr"));
}

// The state of each parameter is found without a search over the others: with a lookup
// linear in the number of parameters, each step of this optimizer made ~10^10 string
// comparisons (minutes), as did saving and restoring its state.
TEST_CASE("optimizers over 10000 parameters step and round-trip their state", "[nn][optim]") {
  // Enough that a linear lookup of each parameter's state (O(n^2) a step) would take minutes.
  constexpr int kParams = 10000;
  NamedTensors params;
  for (int i = 0; i < kParams; ++i)
    params.emplace_back("layer" + std::to_string(i) + ".weight", requires_grad_(tensor({1.0})));
  Adam adam(params, AdamOptions{.lr = 0.1, .amsgrad = true});
  SGD sgd(params, SGDOptions{.lr = 0.1, .momentum = 0.9});
  for (int t = 0; t < 2; ++t) {
    for (const auto& [name, p] : params) set_grad(p, tensor({1.0}));
    adam.step();
    sgd.step();
  }
  // Adam moves each parameter by lr per step on a constant gradient; SGD by lr, then lr 1.9.
  CHECK(params.back().second.item<double>() == Approx(1.0 - 0.2 - 0.1 - 0.19));
  const StateDict adam_state = adam.state_dict();
  CHECK(adam_state.size() == 4 * kParams);  // step, exp_avg, exp_avg_sq, max_exp_avg_sq each
  CHECK(adam_state.begin()->first == "layer0.weight.step");  // the order they were created in
  CHECK(adam_state.at("layer" + std::to_string(kParams - 1) + ".weight.step").item<int64_t>() == 2);
  Adam restored(params, AdamOptions{.lr = 0.1, .amsgrad = true});
  restored.load_state_dict(adam_state);
  CHECK(restored.state_dict().at("layer123.weight.exp_avg").item<double>() ==
        adam_state.at("layer123.weight.exp_avg").item<double>());
  StateDict sgd_state = sgd.state_dict();
  sgd.load_state_dict(sgd_state);
  CHECK(sgd.state_dict().size() == 2 * kParams);
}
