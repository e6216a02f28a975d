// moegrad's command line, with the gated_mlp model kind: `model.kind: gated_mlp` and its
// keys `model.hidden` and `model.gate_init` are read, checked and written like moegrad's own.
#include "gated_mlp.h"
#include "moegrad/train/cli.h"

int main(int argc, char** argv) {
  moegrad::train::register_model_kind(custom::gated_mlp_kind());
  return moegrad::train::run_cli(argc, argv, "custom_model");
}
