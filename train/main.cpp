// The moegrad command line. Library code throws; only this file turns errors into exit
// codes and messages.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>

#include "core/error.h"
#include "train/mlp_demo.h"

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

  CLI11_PARSE(app, argc, argv);
  try {
    if (*demo_cmd) {
      auto r = moegrad::train::run_mlp_demo(demo, std::cout);
      std::cout << fmt::format("loss {:.6f} -> {:.6f}\n", r.first_loss, r.final_loss);
      if (check && !(r.final_loss < 0.5 * r.first_loss)) {
        std::cerr << "demo: loss did not halve\n";
        return 1;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "moegrad: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
