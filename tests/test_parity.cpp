// The parity runner itself: it must fail on a wrong value and explain unreadable files.
#include <catch2/catch.hpp>

#include <filesystem>

#include "moegrad/core/core.h"
#include "moegrad/nn/safetensors.h"
#include "moegrad/train/parity.h"

using namespace moegrad;
using namespace moegrad::train;
namespace fs = std::filesystem;

namespace {
const std::string kFixtures = MOEGRAD_TEST_DATA_DIR "/../fixtures/";

fs::path scratch() {
  fs::path d = fs::temp_directory_path() / ("moegrad_parity_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// A copy of a fixture with one tensor replaced or one metadata entry changed.
std::string altered(const std::string& fixture, const std::function<void(nn::SafetensorsContents&)>& change) {
  nn::SafetensorsContents f = nn::load_safetensors(kFixtures + fixture);
  change(f);
  std::string path = (scratch() / ("altered_" + fixture)).string();
  nn::save_safetensors(path, f.tensors, f.metadata);
  return path;
}
}  // namespace

TEST_CASE("parity passes a fixture and reports the worst error per tensor", "[moe][parity]") {
  ParityOptions opt;
  ParityResult r = run_parity_fixture(kFixtures + "tng_default_train.safetensors", opt);
  INFO(r.error);
  CHECK(r.ok);
  CHECK(r.module == "TopNGating");
  std::string line = format_parity_line(r, opt);
  CHECK_THAT(line, Catch::StartsWith("PASS ") && Catch::Contains("output/combine_tensor") &&
                       Catch::Contains("grad/param/to_gates.weight"));
}

TEST_CASE("parity fails when an expected value or gradient is off", "[moe][parity]") {
  std::string path = altered("moe_train.safetensors", [](nn::SafetensorsContents& f) {
    Tensor t = core::clone(f.tensors.at("grad/param/gate.to_gates.weight"));
    core::fill_(core::narrow(core::flatten(t), 0, 3, 1), 0.5);
    f.tensors.set("grad/param/gate.to_gates.weight", t);
  });
  for (moe::Dispatch d : {moe::Dispatch::dense, moe::Dispatch::indexed}) {
    ParityOptions opt{DType::f64, d};
    ParityResult r = run_parity_fixture(path, opt);
    CHECK_FALSE(r.ok);
    CHECK_THAT(format_parity_line(r, opt),
               Catch::StartsWith("FAIL ") && Catch::Contains("grad/param/gate.to_gates.weight") &&
                   Catch::Contains("element 3"));
  }
  // A float32 run of the same file fails too: the change is far above float32 tolerance.
  CHECK_FALSE(run_parity_fixture(path, {DType::f32, moe::Dispatch::indexed}).ok);
}

TEST_CASE("parity explains unreadable or unknown files", "[moe][parity]") {
  ParityOptions opt;
  auto error_of = [&](const std::string& path) {
    ParityResult r = run_parity_fixture(path, opt);
    CHECK_FALSE(r.ok);
    return r.error;
  };
  CHECK_THAT(error_of("/nonexistent/x.safetensors"), Catch::Contains("/nonexistent/x.safetensors: cannot be read"));
  fs::path junk = scratch() / "junk.safetensors";
  nn::write_file_atomic(junk.string(), "not a safetensors file at all");
  CHECK_THAT(error_of(junk.string()), Catch::Contains("junk.safetensors") && Catch::Contains("header length"));
  CHECK_THAT(error_of(altered("rmsnorm.safetensors", [](auto& f) { f.metadata["module"] = "Conv2d"; })),
             Catch::Contains("unknown module 'Conv2d'"));
  CHECK_THAT(error_of(altered("rmsnorm.safetensors", [](auto& f) { f.metadata["format"] = "moe-parity/2"; })),
             Catch::Contains("expected 'moe-parity/1'"));
  CHECK_THAT(error_of(altered("rmsnorm.safetensors", [](auto& f) { f.metadata["config"] = "{\"dim\": 8, \"bias\": 1}"; })),
             Catch::Contains("config.bias: unknown argument"));
  CHECK_THAT(error_of(altered("rmsnorm.safetensors", [](auto& f) { f.metadata["config"] = "{\"dim\": \"8\"}"; })),
             Catch::Contains("config.dim: expected an integer"));
  CHECK_THAT(error_of(altered("tng_default_train.safetensors", [](auto& f) {
               f.metadata["config"] =
                   "{\"dim\": 8, \"num_gates\": 4, \"top_n\": 3, \"threshold_train\": [0.2]}";
             })),
             Catch::Contains("threshold_train: a list must have top_n - 1 = 2 entries"));
  // MoE's fields go by the reference's names in a fixture (moe/option_fields.cpp declares both).
  CHECK_THAT(error_of(altered("moe_train.safetensors", [](auto& f) { f.metadata["config"] = "{\"dim\": 8, \"top_n\": 2}"; })),
             Catch::Contains("config.top_n: unknown argument"));
  CHECK_THAT(error_of(altered("moe_train.safetensors", [](auto& f) {
               f.metadata["config"] = "{\"dim\": 8, \"num_experts\": 4, \"gating_top_n\": 5}";
             })),
             Catch::Contains("gating_top_n: must be in [1, num_experts=4], got 5"));
  CHECK_THAT(error_of(altered("moerouter_softmax.safetensors", [](auto& f) {
               f.metadata["config"] = "{\"dim\": 8, \"num_experts\": 4, \"hidden_layers\": null, \"mechanism\": \"top1\"}";
             })),
             Catch::Contains("config.mechanism: must be one of \"softmax\", \"gumbel\", got \"top1\""));
  CHECK_THAT(error_of(altered("tng_default_train.safetensors", [](auto& f) {
               f.metadata["config"] = "{\"dim\": 8, \"num_gates\": 4, \"capacity_factor_train\": -1}";
             })),
             Catch::Contains("capacity_factor_train: must be a finite number > 0, got -1"));
  CHECK_THAT(error_of(altered("rmsnorm.safetensors", [](auto& f) {
               nn::StateDict kept;
               for (auto& [name, t] : f.tensors)
                 if (name != "param/gamma") kept.set(name, t);
               f.tensors = kept;
             })),
             Catch::Contains("missing keys: gamma"));
  fs::remove_all(scratch());
}

TEST_CASE("a tiny fixture asking for a huge module is refused before anything is built", "[moe][parity]") {
  auto fixture = [](const std::string& module, const std::string& config) {
    return nn::serialize_safetensors({}, {{"format", "moe-parity/1"}, {"module", module}, {"config", config}});
  };
  auto error_of = [](const std::string& bytes) -> std::string {
    try {
      check_parity_fixture(bytes, "huge.safetensors");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  const std::string moe = fixture("MoE", R"({"dim": 4096, "num_experts": 4096})");
  CHECK(moe.size() < 200);
  CHECK_THAT(error_of(moe), Catch::StartsWith("MoE of this fixture's config needs an estimated ") &&
                                Catch::Contains(" is available"));
  CHECK_THAT(error_of(fixture("Expert", R"({"dim": 65536, "hidden_mult": 1000})")),
             Catch::Contains("config.hidden_mult: must be at most 65536 in a fixture"));
  // A nested metadata JSON is refused by depth before nlohmann builds it.
  CHECK_THAT(error_of(fixture("MoE", std::string(10000, '[') + std::string(10000, ']'))),
             Catch::Contains("huge.safetensors: metadata 'config' nests deeper than 32 levels"));
}
