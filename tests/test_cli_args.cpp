// The command line's numeric options: strict parsing with ranges printed as integers, no
// silent coercion, exit 2 naming the option; and no --help text naming a file that is not
// in the repository.
#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>

#include "run_helpers.h"
#include "moegrad/train/cli_args.h"

using namespace moegrad;
using namespace moegrad::train;
namespace fs = std::filesystem;

namespace {
std::string arg_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("numeric options parse strictly and name their range", "[train][cli]") {
  CHECK(int_arg("--threads", "2", 1, kMaxThreads) == 2);
  for (const char* bad : {"0", "100000", "1.5", "2x", "", " 3", "1e3", "-0x1"})
    CHECK(arg_error([&] { int_arg("--threads", bad, 1, kMaxThreads); }) ==
          std::string("--threads: must be an integer in [1, 1024], got '") + bad + "'");
  CHECK(seed_arg("--seed", "18446744073709551615") == UINT64_MAX);
  for (const char* bad : {"-1", "18446744073709551616", "1e23", "+5", ""})
    CHECK(arg_error([&] { seed_arg("--seed", bad); }) ==
          std::string("--seed: must be an integer in [0, 18446744073709551615], got '") + bad + "'");
  CHECK(positive_arg("--temperature", "0.7", 1e6) == 0.7);
  for (const char* bad : {"0", "-1", "inf", "nan", "1e7", "hot"})
    CHECK(arg_error([&] { positive_arg("--temperature", bad, 1e6); }) ==
          std::string("--temperature: must be a number in (0, 1000000], got '") + bad + "'");
}

TEST_CASE("the binary refuses bad numbers with exit 2 and a short message, before writing", "[train][cli]") {
  const fs::path d = test::fresh_dir("cli_args");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"train", test::kToyConfig, "--threads", "0", "--out", (d / "run").string()},
       "moegrad: --threads: must be an integer in [1, 1024], got '0'\n"},
      {{"train", test::kToyConfig, "--threads", "100000", "--out", (d / "run").string()},
       "moegrad: --threads: must be an integer in [1, 1024], got '100000'\n"},
      {{"sample", "--checkpoint", "x.safetensors", "--length", "-1"},
       "moegrad: --length: must be an integer in [0, 1048576], got '-1'\n"},
      {{"sample", "--checkpoint", "x.safetensors", "--seed", "-1"},
       "moegrad: --seed: must be an integer in [0, 18446744073709551615], got '-1'\n"},
      {{"sample", "--checkpoint", "x.safetensors", "--seed", "1e23"},
       "moegrad: --seed: must be an integer in [0, 18446744073709551615], got '1e23'\n"},
      {{"bench", "--steps", "0"}, "moegrad: --steps: must be an integer in [1, 1048576], got '0'\n"},
      {{"bench", "--batch", "4294967296", "--seq", "4294967296"},
       "moegrad: --batch: must be an integer in [1, 16777216], got '4294967296'\n"},
  };
  for (const Case& c : cases) {
    test::RunResult r = test::run_moegrad_capture(c.args, d / "io");
    CHECK(r.status == 2);
    CHECK(r.err == c.message);
  }
  CHECK(!fs::exists(d / "run"));
  // In range, but no machine has the memory: refused with the estimate, not allocated.
  test::RunResult r = test::run_moegrad_capture({"bench", "--batch", "65536", "--seq", "65536"}, d / "io");
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::StartsWith("moegrad: size: bench b=65536 n=65536 d=256 E=8 needs an estimated ") &&
                        Catch::Contains(" is available"));
  fs::remove_all(d);
}

TEST_CASE("every file a --help text names exists in the repository", "[train][cli]") {
  const fs::path d = test::fresh_dir("cli_help");
  const std::regex doc(R"(([A-Za-z_]+/)+[A-Za-z_]+\.md)");
  int named = 0;
  for (const char* cmd : {"train", "eval", "check-config", "inspect", "sample", "bench", "parity", "demo"}) {
    test::RunResult r = test::run_moegrad_capture({cmd, "--help"}, d);
    CHECK(r.status == 0);
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), doc), end; it != end; ++it, ++named)
      CHECK(fs::exists(fs::path(MOEGRAD_SOURCE_DIR) / it->str()));
  }
  CHECK(named >= 2);  // configs/README.md and bench/README.md at least
  fs::remove_all(d);
}

TEST_CASE("the --device option is checked before anything runs: exit 2 naming the option and why", "[train][cli]") {
  const fs::path d = test::fresh_dir("cli_device");
  const std::string fixture = std::string(MOEGRAD_SOURCE_DIR) + "/tests/fixtures/expert_prenorm_false.safetensors";
  const std::vector<std::vector<std::string>> commands = {
      {"train", test::kToyConfig, "--out", (d / "run").string()},
      {"eval", test::kToyConfig, "--checkpoint", (d / "none.safetensors").string()},
      {"sample", "--checkpoint", (d / "none.safetensors").string()},
      {"inspect", (d / "none.safetensors").string()},
      {"bench", "--size", "S"},
      {"parity", fixture}};
  for (auto args : commands) {
    CAPTURE(args[0]);
    args.insert(args.end(), {"--device", "gpu"});
    test::RunResult r = test::run_moegrad_capture(args, d / "io");
    CHECK(r.status == 2);
    CHECK(r.err == "moegrad: --device: must be cpu, cuda or cuda:N, got 'gpu'\n");
    args.back() = "cuda:9";
    r = test::run_moegrad_capture(args, d / "io");
    CHECK(r.status == 2);
    CHECK(r.err == "moegrad: --device: " + device_unavailable_reason(Device::cuda(9)) + "\n");
  }
  CHECK(!fs::exists(d / "run"));
  fs::remove_all(d);
}
