// train --dump-grads: what each MoE layer computed at the chosen steps, with the gradients
// of the step's loss, as a user diffing against PyTorch reads them.
#include <catch2/catch.hpp>

#include <filesystem>

#include "moegrad/nn/safetensors.h"
#include "moegrad/train/grad_dump.h"
#include "tests/run_helpers.h"

using namespace moegrad;
using namespace moegrad::test;
namespace fs = std::filesystem;

TEST_CASE("train --dump-grads writes the intermediates and gradients of the chosen steps", "[train]") {
  for (const std::string dispatch : {"indexed", "dense"}) {
    INFO(dispatch);
    const fs::path out = fresh_dir("grad_dump_" + dispatch);
    std::vector<std::string> args = {"train", kToyConfig, "--out", (out / "run").string(), "--dump-grads", "1,3",
                                     (out / "grads").string()};
    for (const std::string& o : tiny_toy(4, {"model.dispatch=" + dispatch}))
      args.insert(args.end(), {"--set", o});
    REQUIRE(run_moegrad(args) == 0);
    CHECK(fs::exists(out / "grads" / "step_00000001.safetensors"));
    CHECK_FALSE(fs::exists(out / "grads" / "step_00000002.safetensors"));
    nn::SafetensorsContents f = nn::load_safetensors((out / "grads" / "step_00000003.safetensors").string());
    CHECK(f.metadata.at("format") == "moegrad-grad-dump/1");
    CHECK(f.metadata.at("step") == "3");
    for (const char* name : {"input/x", "output/main_loss", "routing/layers.1.kept", "intermediate/layers.0.gate_logits",
                             "grad/intermediate/layers.0.gate_logits", "grad/intermediate/layers.1.gates",
                             "grad/intermediate/layers.0.dispatch_weights",
                             dispatch == "dense" ? "intermediate/layers.0.expert_inputs" : "intermediate/layers.0.expert_inputs.3",
                             "grad/param/blocks.0.moe.gate.to_gates.weight"}) {
      INFO(name);
      CHECK(f.tensors.find(name) != nullptr);
    }
    // The gradients are the step's own: each expert's last Linear has as bias gradient the
    // sum over its rows of the gradient of the expert's output.
    for (int layer = 0; layer < 2; ++layer)
      for (int e = 0; e < 4; ++e) {
        INFO("layer " << layer << " expert " << e);
        const std::string l = std::to_string(layer), x = std::to_string(e);
        const Tensor* g_out = f.tensors.find("grad/intermediate/layers." + l + ".expert_outputs" +
                                             (dispatch == "dense" ? "" : "." + x));
        const Tensor* g_bias = f.tensors.find("grad/param/blocks." + l + ".moe.experts.experts." + x + ".net.2.bias");
        REQUIRE((g_out && g_bias));
        std::vector<double> rows = g_out->to_vector<double>();
        const std::vector<double> bias = g_bias->to_vector<double>();
        if (dispatch == "dense") {  // (e, b, c, d): expert e's block of rows
          const size_t per = rows.size() / 4;
          rows = std::vector<double>(rows.begin() + static_cast<long>(e * per), rows.begin() + static_cast<long>((e + 1) * per));
        }
        const size_t d = bias.size();
        REQUIRE(rows.size() % d == 0);
        for (size_t j = 0; j < d; ++j) {
          double s = 0;
          for (size_t r = 0; r < rows.size() / d; ++r) s += rows[r * d + j];
          CHECK(bias[j] == Approx(s).margin(1e-7).epsilon(1e-4));
        }
      }
    fs::remove_all(out);
  }
  CHECK_THROWS_WITH(train::parse_dump_steps("1,,3"), Catch::Contains("--dump-grads: expected steps like 1,10,100"));
  CHECK(train::parse_dump_steps("5,1,5") == std::set<int64_t>{1, 5});
}
