// moegrad's command line, with the squared_relu expert kind: every command (train, eval,
// check-config, sample, parity, bench) knows `model.expert_kind: squared_relu`.
#include "moegrad/train/cli.h"
#include "squared_relu.h"

int main(int argc, char** argv) {
  moegrad::moe::register_expert_kind(custom::squared_relu_expert());
  return moegrad::train::run_cli(argc, argv, "custom_expert");
}
