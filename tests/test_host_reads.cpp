// Reads back to the host, counted at the backend seam: on a GPU each is a full sync, so
// the hot paths are held to fixed numbers that do not grow with the model (issue: a read
// per gather, per expert and per parameter made a step's syncs grow with its size).
#include <catch2/catch.hpp>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/moe/moe.h"
#include "moegrad/nn/optim/adam.h"
#include "moegrad/nn/optim/clip_grad.h"
#include "run_helpers.h"
#include "moegrad/train/trainer.h"

#include <nlohmann/json.hpp>

using namespace moegrad;

namespace {
uint64_t reads_of(const std::function<void()>& f) {
  const uint64_t before = host_reads();
  f();
  return host_reads() - before;
}

moe::MoEOptions layer(int64_t experts, moe::Dispatch dispatch) {
  moe::MoEOptions o;
  o.dim = 8;
  o.num_experts = experts;
  o.dispatch = dispatch;
  return o;
}
}  // namespace

TEST_CASE("host reads are counted where they happen", "[core]") {
  Tensor t = ones({3});
  CHECK(reads_of([&] { (void)t.to_vector<double>(); }) == 1);
  CHECK(reads_of([&] { (void)core::sum(t).item<double>(); }) == 1);
  CHECK(reads_of([&] { (void)core::binary(BinaryOp::add, t, t); }) == 0);
  // A checked index costs its min and max; a trusted one nothing.
  Tensor idx = from_vector(std::vector<int64_t>{2, 0}, {2}, DType::i64);
  CHECK(reads_of([&] { (void)core::index_select(t, 0, idx); }) == 2);
  CHECK(reads_of([&] { (void)core::index_select(t, 0, idx, IndexCheck::trusted); }) == 0);
}

TEST_CASE("one MoE layer's forward and backward read the host at most twice, for any number of experts",
          "[moe]") {
  for (auto dispatch : {moe::Dispatch::dense, moe::Dispatch::indexed})
    for (int64_t experts : {2, 4, 16}) {
      CAPTURE(moe::dispatch_name(dispatch), experts);
      Generator gen(3);
      moe::MoE m(layer(experts, dispatch), gen);
      Tensor x = requires_grad_(randn({2, 16, 8}, gen));
      moe::GatingCall call;
      call.gen = &gen;
      const uint64_t n = reads_of([&] {
        moe::MoEOutput out = m.forward(x, call);
        backward(sum(out.outputs) + sum(out.total_aux_loss));
      });
      CHECK(n <= 2);
    }
}

TEST_CASE("clipping and the optimizer step read the host once, for any number of parameters", "[nn][optim]") {
  for (int count : {3, 30}) {
    nn::NamedTensors params;
    for (int i = 0; i < count; ++i) {
      Tensor p = requires_grad_(ones({4}));
      set_grad(p, full({4}, 2.0));
      params.emplace_back("p" + std::to_string(i), p);
    }
    nn::AdamW adam(params, nn::AdamOptions{.lr = 0.1});
    TensorList list;
    for (auto& [name, p] : params) list.push_back(p);
    CHECK(reads_of([&] {
            nn::clip_grad_norm_(list, 1.0);
            adam.step();
          }) == 1);
  }
}

TEST_CASE("a toy_moe training step reads the host a fixed number of times, whatever the experts and depth",
          "[train]") {
  // Steps 2 and 3 against step 2 alone: the reads of one more step (no log, eval or
  // checkpoint on it).
  auto reads_for_steps = [](int64_t steps, const std::vector<std::string>& size) {
    std::vector<std::string> o = test::tiny_toy(steps, {"train.log_interval=1000", "train.checkpoint_interval=1000"});
    o.insert(o.end(), size.begin(), size.end());
    const auto dir = test::fresh_dir("host_reads");
    const uint64_t before = host_reads();
    test::train_here(o, dir.string());
    return host_reads() - before;
  };
  std::vector<uint64_t> per_step;
  for (const auto& size : std::vector<std::vector<std::string>>{
           {"model.num_experts=2", "model.depth=1"}, {"model.num_experts=8", "model.depth=1"},
           {"model.num_experts=8", "model.depth=1", "model.dim=32"}, {"model.num_experts=8", "model.depth=3"}})
    per_step.push_back(reads_for_steps(3, size) - reads_for_steps(2, size));
  CAPTURE(per_step);
  CHECK(per_step[0] <= 3);  // the loss terms, the gradient norm, the one MoE layer's counts
  CHECK(per_step[0] == per_step[1]);  // more experts
  CHECK(per_step[1] == per_step[2]);  // more parameters
  CHECK(per_step[1] <= per_step[3]);
  // Depth adds each layer's one count read (indexed dispatch) and nothing per parameter.
  CHECK(per_step[3] - per_step[1] <= 2 * 2);
}

TEST_CASE("moegrad bench reports its host reads per step", "[train][cli]") {
  const auto d = test::fresh_dir("bench_reads");
  for (const char* dispatch : {"indexed", "dense"}) {
    CAPTURE(dispatch);
    test::RunResult r = test::run_moegrad_capture({"bench", "--batch", "2", "--seq", "16", "--dim", "16", "--experts",
                                                   "4", "--steps", "2", "--warmup", "1", "--dispatch", dispatch},
                                                  d);
    REQUIRE(r.status == 0);
    const auto j = nlohmann::json::parse(r.out);
    // The indexed dispatch's one count read; the dense path has none.
    CHECK(j.at("host_reads_per_step").get<double>() == (std::string(dispatch) == "indexed" ? 1.0 : 0.0));
  }
  std::filesystem::remove_all(d);
}
