// Weights in and out as PyTorch users keep them: `moegrad export` writes the plain state
// dict, and eval and sample take such a file (--weights), with or without a config.
#include <catch2/catch.hpp>

#include <filesystem>

#include "moegrad/core/creation.h"
#include "moegrad/nn/safetensors.h"
#include "moegrad/train/checkpoint.h"
#include "moegrad/train/sampling.h"
#include "moegrad/train/trainer.h"
#include "tests/run_helpers.h"

using namespace moegrad;
using namespace moegrad::test;
namespace fs = std::filesystem;

namespace {
const std::string kLmConfig = std::string(MOEGRAD_SOURCE_DIR) + "/configs/char_lm.yaml";

// The eval record without the field naming where the weights came from.
nlohmann::json without_source(nlohmann::json rec) {
  rec.erase("checkpoint");
  rec.erase("weights");
  return rec;
}
}  // namespace

TEST_CASE("export writes the plain state dict and eval of it equals eval of the checkpoint", "[train]") {
  const fs::path out = fresh_dir("weights_export");
  const std::vector<std::string> overrides = tiny_toy(3);
  train::TrainSummary run = train_here(overrides, (out / "run").string());
  const std::string weights = (out / "model.safetensors").string();

  // Through the binary, as a user runs it.
  REQUIRE(run_moegrad({"export", run.last_checkpoint, "--out", weights}) == 0);
  nn::SafetensorsContents f = nn::load_safetensors(weights);
  train::CheckpointState ck = train::load_checkpoint(run.last_checkpoint);
  REQUIRE(f.tensors.size() == ck.model.size());
  for (const auto& [name, t] : ck.model) {
    INFO(name);
    const Tensor* got = f.tensors.find(name);
    REQUIRE(got != nullptr);  // the state_dict() name itself: no model/ prefix
    CHECK(got->to_vector<double>() == t.to_vector<double>());
  }
  for (const auto& [name, t] : f.tensors) {
    CHECK(name.rfind("model/", 0) != 0);
    CHECK(name.rfind("optim/", 0) != 0);
    CHECK(name.rfind("rng/", 0) != 0);
  }

  const nlohmann::json from_checkpoint = train::evaluate_checkpoint("", {}, run.last_checkpoint);
  CHECK(without_source(train::evaluate_weights_file("", {}, weights)) == without_source(from_checkpoint));
  // With the run's config given, the same.
  CHECK(without_source(train::evaluate_weights_file(kToyConfig, overrides, weights)) ==
        without_source(from_checkpoint));

  // A file as PyTorch's save_file(model.state_dict()) writes it: the tensors and no metadata.
  const std::string bare = (out / "torch_style.safetensors").string();
  nn::save_safetensors(bare, ck.model);
  nlohmann::json bare_eval = without_source(train::evaluate_weights_file(kToyConfig, overrides, bare));
  CHECK_FALSE(bare_eval.contains("step"));  // such a file does not record it
  nlohmann::json same_without_step = without_source(from_checkpoint);
  same_without_step.erase("step");
  CHECK(bare_eval == same_without_step);
  // Without a config it cannot know the model: the error says what to add.
  CHECK_THROWS_WITH(train::evaluate_weights_file("", {}, bare),
                    Catch::Contains("--weights " + bare) && Catch::Contains("records no config"));
  const RunResult cli = run_moegrad_capture({"eval", "--weights", bare}, out / "cli");
  CHECK(cli.status == 2);
  CHECK_THAT(cli.err, Catch::Contains("give the YAML config"));
  // A checkpoint given as --weights is pointed to --checkpoint.
  CHECK_THROWS_WITH(train::evaluate_weights_file("", {}, run.last_checkpoint), Catch::Contains("pass it as --checkpoint"));
  // A state dict of another model is refused naming the key.
  nn::StateDict partial;
  for (const auto& [name, t] : ck.model)
    if (name != "blocks.0.moe.gate.to_gates.weight") partial.set(name, t);
  const std::string missing = (out / "partial.safetensors").string();
  nn::save_safetensors(missing, partial);
  CHECK_THROWS_WITH(train::evaluate_weights_file(kToyConfig, overrides, missing), Catch::Contains("to_gates.weight"));
  // A config whose model differs from the one saved with the weights is refused.
  std::vector<std::string> wider = overrides;
  wider.push_back("model.dim=32");
  CHECK_THROWS_WITH(train::evaluate_weights_file(kToyConfig, wider, weights), Catch::Contains("model.dim"));
  fs::remove_all(out);
}

TEST_CASE("eval --dump writes the first eval batch and what the model made of it", "[train]") {
  const fs::path out = fresh_dir("weights_dump");
  const std::vector<std::string> overrides = tiny_toy(3);
  train::TrainSummary run = train_here(overrides, (out / "run").string());
  const std::string dump = (out / "dump.safetensors").string();
  REQUIRE(run_moegrad({"eval", "--checkpoint", run.last_checkpoint, "--dump", dump}) == 0);
  nn::SafetensorsContents f = nn::load_safetensors(dump);
  const train::Config cfg = train::parse_config(f.metadata.at(train::kWeightsConfigKey), "dump");
  const Tensor* inputs = f.tensors.find("inputs");
  const Tensor* targets = f.tensors.find("targets");
  const Tensor* uniforms = f.tensors.find("route_uniforms");
  const Tensor* prediction = f.tensors.find("prediction");
  const Tensor* loss = f.tensors.find("main_loss");
  REQUIRE((inputs && targets && uniforms && prediction && loss));
  CHECK(inputs->shape() == Shape({1, cfg.train.batch_size, cfg.data.input_dim}));
  CHECK(uniforms->shape() == Shape({cfg.model.moe_block.moe.top_n, 1, cfg.train.batch_size}));
  CHECK(prediction->shape() == targets->shape());
  // The loss is the MSE of the prediction written beside it.
  const std::vector<double> p = prediction->to_vector<double>(), t = targets->to_vector<double>();
  double mse = 0;
  for (size_t i = 0; i < p.size(); ++i) mse += (p[i] - t[i]) * (p[i] - t[i]) / static_cast<double>(p.size());
  CHECK(loss->to_vector<double>()[0] == Approx(mse).epsilon(1e-5));

  // The same model fed the dumped batch and uniforms gives the dumped prediction, bit for bit.
  train::CheckpointState ck = train::load_checkpoint(run.last_checkpoint);
  std::unique_ptr<train::Task> task = train::make_task(cfg, DType::f32);
  Generator gen(1);
  std::unique_ptr<train::TrainModel> model = train::make_model(cfg, task->vocab_size(), gen, DType::f32);
  model->load_state_dict(ck.model, /*strict=*/true);
  model->eval();
  moe::GatingCall call;
  call.route_uniforms = *uniforms;
  train::Batch b{*inputs, *targets, Tensor(), 0};
  CHECK(model->forward(b, call).prediction.to_vector<double>() == p);
  // Other uniforms route otherwise: the dump's uniforms are the ones the prediction used.
  call.route_uniforms = moegrad::full(uniforms->shape(), 0.999, DType::f32);
  CHECK(model->forward(b, call).prediction.to_vector<double>() != p);
}

TEST_CASE("sample takes an exported state dict as it takes the checkpoint", "[train][slow]") {
  const fs::path out = fresh_dir("weights_sample");
  const std::vector<std::string> overrides = {
      "train.steps=4", "optim.schedule.warmup_steps=1", "model.dim=16", "model.heads=2", "data.seq_len=16",
      "model.context=16", "train.batch_size=4", "train.eval_batches=1", "data.corpus_chars=5000",
      "train.checkpoint_interval=4"};
  train::TrainSummary run = train_here(overrides, (out / "run").string(), "", nullptr, kLmConfig);
  const std::string weights = (out / "lm.safetensors").string();
  train::export_weights(run.last_checkpoint, weights);
  train::SampleOptions a;
  a.checkpoint = run.last_checkpoint;
  a.prompt = "The ";
  a.length = 20;
  a.seed = 7;
  train::SampleOptions b = a;
  b.checkpoint.clear();
  b.weights = weights;
  CHECK(train::sample_text(b) == train::sample_text(a));
  // A bare state dict with the config: the vocabulary comes from the config's data.
  const std::string bare = (out / "bare.safetensors").string();
  nn::save_safetensors(bare, train::load_checkpoint(run.last_checkpoint).model);
  train::SampleOptions c = b;
  c.weights = bare;
  CHECK_THROWS_WITH(train::sample_text(c), Catch::Contains("records no config"));
  // The config as the run resolved it (its --set overrides included).
  c.config = run.config_file;
  CHECK(train::sample_text(c) == train::sample_text(a));
  fs::remove_all(out);
}
