// The moegrad command line. Library code throws; only this file turns errors into exit
// codes and messages.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>

#include "core/error.h"
#include "train/mlp_demo.h"
#include "train/parity.h"

namespace {

int run_demo(const moegrad::train::MlpDemoOptions& demo, bool check) {
  auto r = moegrad::train::run_mlp_demo(demo, std::cout);
  std::cout << fmt::format("loss {:.6f} -> {:.6f}\n", r.first_loss, r.final_loss);
  if (check && !(r.final_loss < 0.5 * r.first_loss)) {
    std::cerr << "demo: loss did not halve\n";
    return 1;
  }
  return 0;
}

int run_parity(const std::vector<std::string>& files, const std::string& dtype, const std::string& dispatch) {
  moegrad::train::ParityOptions opt;
  opt.dtype = dtype == "float32" ? moegrad::DType::f32 : moegrad::DType::f64;
  opt.dispatch = moegrad::moe::parse_dispatch(dispatch);
  int failed = 0;
  for (const std::string& f : files) {
    moegrad::train::ParityResult r = moegrad::train::run_parity_fixture(f, opt);
    std::cout << moegrad::train::format_parity_line(r, opt) << std::endl;
    failed += !r.ok;
  }
  std::cout << fmt::format("{} of {} fixtures passed ({}, {} dispatch)\n", files.size() - failed, files.size(),
                           dtype, dispatch);
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moegrad: train Mixture-of-Experts models"};
  app.require_subcommand(1);

  moegrad::train::MlpDemoOptions demo;
  bool check = false;
  CLI::App* demo_cmd = app.add_subcommand("demo", "train a 2-layer MLP with SGD (smoke test)");
  demo_cmd->add_option("--steps", demo.steps, "SGD steps")->check(CLI::PositiveNumber);
  demo_cmd->add_option("--seed", demo.seed, "generator seed");
  demo_cmd->add_option("--lr", demo.lr, "learning rate")->check(CLI::PositiveNumber);
  demo_cmd->add_flag("--check", check, "exit 1 unless the loss at least halves");

  std::vector<std::string> parity_files;
  std::string parity_dtype = "float64", parity_dispatch = "indexed";
  CLI::App* parity_cmd =
      app.add_subcommand("parity", "check moe-parity/1 fixtures: outputs and gradients against the reference");
  parity_cmd->add_option("files", parity_files, "fixture files (.safetensors)")->required();
  parity_cmd->add_option("--dtype", parity_dtype, "compute in float64 (default) or float32")
      ->check(CLI::IsMember({"float64", "float32"}));
  parity_cmd->add_option("--dispatch", parity_dispatch, "dispatch path: indexed (default) or dense")
      ->check(CLI::IsMember({"indexed", "dense"}));

  CLI11_PARSE(app, argc, argv);
  try {
    if (*demo_cmd) return run_demo(demo, check);
    if (*parity_cmd) return run_parity(parity_files, parity_dtype, parity_dispatch);
  } catch (const std::exception& e) {
    std::cerr << "moegrad: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
