// Model kinds, tasks, optimizers and schedules registered by name (train/model_kind.h,
// task_kind.h, optimizer_kind.h, schedule_kind.h): one
// of a program's own, with keys of its own, is read, range-checked, written, documented,
// sized and built like moegrad's.
#include <catch2/catch.hpp>

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/train/config_docs.h"
#include "moegrad/train/config_schema.h"
#include "moegrad/train/memory_estimate.h"
#include "moegrad/train/model_kind.h"
#include "moegrad/train/optimizer_kind.h"
#include "moegrad/train/schedule_kind.h"
#include "moegrad/train/task_kind.h"
#include "moegrad/nn/optim/sgd.h"
#include "moegrad/train/task.h"

using namespace moegrad;
using namespace moegrad::train;

namespace {

// mlp_dense under another name, with a key of its own that widens its feedforwards.
void register_test_kind() {
  static const bool once = [] {
    const ModelKindSpec& dense = find_model_kind("mlp_dense");
    ModelKindSpec k = dense;
    k.name = "test_wide_dense";
    k.doc = "mlp_dense with hidden_mult taken from its own key `widen`";
    k.keys = {int_param("widen", "`test_wide_dense`: hidden_mult of the feedforwards", {1, 64}, 3),
              bool_param("test_flag", "`test_wide_dense`: unused", false)};
    auto widened = [](Config c) {
      c.model.hidden_mult = static_cast<double>(model_int(c, "widen"));
      return c;
    };
    k.build = [dense, widened](const Config& c, int64_t vocab, Generator& gen, DType dt) {
      return dense.build(widened(c), vocab, gen, dt);
    };
    k.parameter_count = [dense, widened](const Config& c) { return dense.parameter_count(widened(c)); };
    k.activation_count = [dense, widened](const Config& c) { return dense.activation_count(widened(c)); };
    k.size_keys = {"widen"};
    register_model_kind(k);
    return true;
  }();
  (void)once;
}

std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "t.yaml");
  } catch (const ConfigFileError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a registered model kind's own keys are read, checked, written and documented", "[train][config]") {
  register_test_kind();
  const Config c = parse_config("model:\n  kind: test_wide_dense\n  widen: 5\n", "t.yaml");
  CHECK(model_int(c, "widen") == 5);
  CHECK(model_bool(c, "test_flag") == false);  // its default
  const std::string yaml = to_yaml(c);
  CHECK_THAT(yaml, Catch::Contains("kind: test_wide_dense") && Catch::Contains("widen: 5") &&
                       Catch::Contains("test_flag: false") && !Catch::Contains("num_experts"));
  CHECK(to_yaml(parse_config(yaml, "resolved.yaml")) == yaml);
  // Its keys apply to it alone: another kind leaves them out of the resolved config.
  CHECK_THAT(to_yaml(parse_config("model:\n  widen: 5\n", "t.yaml")), !Catch::Contains("widen"));
  CHECK(error_of("model:\n  kind: test_wide_dense\n  widen: 0\n") ==
        "t.yaml:3: model.widen: expected an integer in [1, 64], got '0'");
  CHECK(error_of("model:\n  kind: test_wide_dense\n  test_flag: maybe\n") ==
        "t.yaml:3: model.test_flag: expected true or false, got 'maybe'");
  CHECK_THAT(error_of("model:\n  kind: nope\n"), Catch::Contains("must be one of mlp_moe, mlp_dense, moe_lm") &&
                                                     Catch::Contains("test_wide_dense"));
  CHECK_THAT(error_of("model:\n  kind: test_wide_dense\ndata:\n  task: char_lm\n"),
             Catch::Contains("model.kind test_wide_dense needs task clusters"));
  CHECK_THAT(config_docs_markdown(), Catch::Contains("| `widen` | `3` | integer in [1, 64] |") &&
                                         Catch::Contains("`test_wide_dense`: mlp_dense with hidden_mult"));
  CHECK_THROWS_WITH(register_model_kind(find_model_kind("mlp_moe")), Catch::Contains("registered already"));
}

TEST_CASE("a registered model kind is built, sized and blamed by its own keys", "[train]") {
  register_test_kind();
  const Config c = parse_config("model:\n  kind: test_wide_dense\n  widen: 7\n  dim: 8\n", "t.yaml");
  Generator gen(0);
  std::unique_ptr<TrainModel> model = make_model(c, 0, gen, DType::f32);
  CHECK(static_cast<double>(model->num_parameters()) == find_model_kind("test_wide_dense").parameter_count(c));
  // The widened feedforward: int(8 * 7 * 2 / 3) = 37 hidden units in each.
  CHECK(model->state_dict().find("blocks.0.net.1.weight")->shape() == Shape{74, 8});
  std::unique_ptr<Task> task = make_task(c, DType::f32);
  Generator draw(1);
  ModelOutput out = model->forward(task->train_batch(4, draw), {});
  CHECK(out.main_loss.numel() == 1);
  // Far past its default, its own key is the one named for the parameters' memory.
  const Config wide = parse_config(
      "model:\n  kind: test_wide_dense\n  widen: 64\n  dim: 256\ndata:\n  train_size: 256\n  eval_size: 64\n", "t.yaml");
  CHECK(estimate_memory(wide).dominating_key == "model.widen");
}

TEST_CASE("a registered optimizer's own keys are read under optim: and its build is used", "[train][config]") {
  static const bool once = [] {
    register_optimizer({.name = "test_scaled_sgd",
                        .doc = "plain SGD at optim.lr times its own `lr_scale`",
                        .keys = {real_param("lr_scale", "`test_scaled_sgd`: factor on optim.lr", {0, true, 1}, 0.5,
                                            ParamsOf::optim)},
                        .build = [](const nn::NamedTensors& params, const Config& c) -> std::unique_ptr<nn::Optimizer> {
                          return std::make_unique<nn::SGD>(
                              params, nn::SGDOptions{.lr = c.optim.lr * optim_real(c, "lr_scale")});
                        },
                        .states_per_parameter = 0,
                        .validate = nullptr});
    return true;
  }();
  (void)once;
  const Config c = parse_config("optim:\n  name: test_scaled_sgd\n  lr: 0.1\n  lr_scale: 0.25\n", "t.yaml");
  CHECK(optim_real(c, "lr_scale") == 0.25);
  const std::string yaml = to_yaml(c);
  CHECK_THAT(yaml, Catch::Contains("lr_scale: 0.25") && !Catch::Contains("betas") && !Catch::Contains("momentum"));
  CHECK_THAT(to_yaml(parse_config("optim:\n  lr_scale: 0.25\n", "t.yaml")), !Catch::Contains("lr_scale"));
  CHECK(error_of("optim:\n  name: test_scaled_sgd\n  lr_scale: 2\n") ==
        "t.yaml:3: optim.lr_scale: must be a finite number in (0, 1], got 2");
  CHECK_THAT(error_of("optim:\n  name: lion\n"), Catch::Contains("must be one of sgd, adam, adamw, test_scaled_sgd"));
  Tensor w = requires_grad_(ones({2}));
  std::unique_ptr<nn::Optimizer> opt = find_optimizer("test_scaled_sgd").build({{"w", w}}, c);
  CHECK(opt->lr() == Approx(0.025));
  // The built-ins' rule between keys still holds, for sgd.
  CHECK(error_of("optim:\n  name: sgd\n  nesterov: true\n") == "t.yaml:3: optim.nesterov: needs optim.momentum > 0");
}

TEST_CASE("a registered schedule's own keys are read under optim.schedule: and set the learning rate", "[train][config]") {
  static const bool once = [] {
    register_schedule({.name = "test_halving",
                       .doc = "optim.lr halved every `every` steps",
                       .keys = {int_param("every", "`test_halving`: steps between halvings", {1, 1000}, 10,
                                          ParamsOf::schedule)},
                       .lr = [](const Config& c, int64_t step) {
                         return c.optim.lr * std::pow(0.5, static_cast<double>(step / schedule_int(c, "every")));
                       },
                       .validate = nullptr});
    return true;
  }();
  (void)once;
  const Config c =
      parse_config("optim:\n  lr: 0.8\n  schedule:\n    kind: test_halving\n    every: 3\n", "t.yaml");
  CHECK(lr_at(c, 0) == 0.8);
  CHECK(lr_at(c, 2) == 0.8);
  CHECK(lr_at(c, 3) == 0.4);
  CHECK(lr_at(c, 7) == 0.2);
  CHECK_THAT(to_yaml(c), Catch::Contains("kind: test_halving\n    every: 3") && !Catch::Contains("warmup_steps"));
  CHECK(error_of("optim:\n  schedule:\n    kind: test_halving\n    every: 0\n") ==
        "t.yaml:4: optim.schedule.every: expected an integer in [1, 1000], got '0'");
  // The built-ins through the same entry: warmup_cosine over train.steps.
  const Config cos = parse_config(
      "optim:\n  lr: 1.0\n  schedule:\n    kind: warmup_cosine\n    warmup_steps: 2\ntrain:\n  steps: 10\n", "t.yaml");
  CHECK(lr_at(cos, 0) == Approx(0.5));
  CHECK(lr_at(cos, 1) == Approx(1.0));
  CHECK(lr_at(cos, 10) == Approx(0.0).margin(1e-12));
}

namespace {
// Targets equal to the inputs plus noise of data.noise: a task of a program's own.
class NoisyCopyTask : public Task {
 public:
  explicit NoisyCopyTask(const Config& c) : dim_(c.data.input_dim), noise_(data_real(c, "noise")) {}

 protected:
  Batch host_train_batch(int64_t batch_size, Generator& gen) const override {
    Batch b;
    b.inputs = randn({1, batch_size, dim_}, gen);
    b.targets = b.inputs + randn({1, batch_size, dim_}, gen) * noise_;
    b.tokens = batch_size;
    return b;
  }
  Batch host_eval_batch(int64_t i, int64_t batch_size) const override {
    Generator gen(static_cast<uint64_t>(i) + 1000);
    return host_train_batch(batch_size, gen);
  }

 private:
  int64_t dim_;
  double noise_;
};
}  // namespace

TEST_CASE("a registered task's own keys are read under data: and a model kind trains on it", "[train][config]") {
  static const bool once = [] {
    register_task({.name = "test_noisy_copy",
                   .doc = "targets are the inputs plus noise",
                   .keys = {real_param("noise", "`test_noisy_copy`: noise scale", {0, false, 10}, 0.1, ParamsOf::data)},
                   .build = [](const Config& c, DType) -> std::unique_ptr<Task> {
                     return std::make_unique<NoisyCopyTask>(c);
                   },
                   .data_bytes = [](const Config&) { return 0.0; },
                   .data_key = [](const Config&) -> std::string { return "data.noise"; },
                   .validate = nullptr});
    ModelKindSpec dense = find_model_kind("mlp_dense");
    dense.name = "test_copy_dense";
    dense.task = "test_noisy_copy";
    register_model_kind(dense);
    return true;
  }();
  (void)once;
  const Config c = parse_config(
      "model:\n  kind: test_copy_dense\n  dim: 8\ndata:\n  task: test_noisy_copy\n  noise: 0.5\n  input_dim: 4\n"
      "  output_dim: 4\n",
      "t.yaml");
  CHECK(data_real(c, "noise") == 0.5);
  CHECK_THAT(to_yaml(c), Catch::Contains("task: test_noisy_copy\n  noise: 0.5") && !Catch::Contains("num_clusters"));
  CHECK_THAT(error_of("model:\n  kind: test_copy_dense\n"), Catch::Contains("needs task test_noisy_copy"));
  CHECK_THAT(error_of("data:\n  task: nope\n"), Catch::Contains("must be one of clusters, char_lm, test_noisy_copy"));
  std::unique_ptr<Task> task = make_task(c, DType::f32);
  Generator gen(3), init(4);
  const Batch b = task->train_batch(5, gen);
  CHECK(b.inputs.shape() == Shape{1, 5, 4});
  std::unique_ptr<TrainModel> model = make_model(c, 0, init, DType::f32);
  CHECK(model->forward(b, {}).main_loss.numel() == 1);
}
