// Inputs the fuzzers of tests/fuzz once crashed on (see tests/README.md): each must now be
// answered with a clear moegrad error, or accepted, and never with anything else.
#include <catch2/catch.hpp>

#include <filesystem>

#include "moegrad/nn/safetensors.h"
#include "moegrad/train/config.h"
#include "moegrad/train/parity.h"

using namespace moegrad;
namespace fs = std::filesystem;

namespace {
const fs::path kRegressions = fs::path(MOEGRAD_SOURCE_DIR) / "tests" / "fuzz" / "regressions";

std::vector<fs::path> files_in(const std::string& kind) {
  std::vector<fs::path> out;
  if (fs::is_directory(kRegressions / kind))
    for (const auto& e : fs::directory_iterator(kRegressions / kind)) out.push_back(e.path());
  return out;
}
}  // namespace

TEST_CASE("config fuzz regressions are answered with a located error", "[fuzz][config]") {
  auto files = files_in("config");
  REQUIRE_FALSE(files.empty());
  for (const auto& f : files) {
    INFO(f);
    try {
      train::load_config(f.string());
    } catch (const train::ConfigFileError& e) {
      CHECK_THAT(std::string(e.what()), Catch::StartsWith(f.string() + ":"));
    }
  }
  CHECK_THROWS_WITH(train::parse_config("data:\n  ? task: clusters\n  : 1\n", "k.yaml"),
                    "k.yaml:2: data: keys must be plain names, got a mapping as a key");
}

TEST_CASE("safetensors and parity fuzz regressions are answered with an error", "[fuzz]") {
  for (const auto& f : files_in("safetensors")) {
    INFO(f);
    CHECK_THROWS_AS(nn::parse_safetensors(nn::read_file(f.string()), f.string()), Error);
  }
  for (const auto& f : files_in("parity_fixture")) {
    INFO(f);
    CHECK_THROWS_AS(train::check_parity_fixture(nn::read_file(f.string()), f.string()), Error);
  }
}

TEST_CASE("a config on which yaml-cpp's LoadAll never returned is refused at once", "[fuzz][config]") {
  // Found by fuzz_config (2026-12-01): a mangled "---" and invalid UTF-8. yaml-cpp 0.7's
  // LoadAll looped forever on it, and Load reads it as an empty document.
  const std::string f = kRegressions.string() + "/config/loadall_never_ends.yaml";
  CHECK_THROWS_WITH(train::load_config(f), f + ": (syntax): the text is not a YAML mapping (is it UTF-8 YAML?)");
}
