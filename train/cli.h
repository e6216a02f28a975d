#pragma once
// The `moegrad` command line as a library function: train, eval, export, check-config,
// sample, parity, bench and demo, with the exit codes and messages of the stock binary. A
// program that registers its own kinds first (an expert kind: moe/expert_kind.h) and then
// calls run_cli has every command with those kinds too:
//
//   int main(int argc, char** argv) {
//     moegrad::moe::register_expert_kind(my_kind());
//     return moegrad::train::run_cli(argc, argv, "my-moe");
//   }
#include <string>

namespace moegrad::train {

// Parses argv as `moegrad` does and runs the command; returns the exit status. `program`
// names the binary in its help and messages.
int run_cli(int argc, char** argv, const std::string& program = "moegrad");

}  // namespace moegrad::train
