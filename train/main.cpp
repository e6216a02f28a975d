// The stock `moegrad` binary: the command line of train/cli.h with moegrad's own kinds.
#include "moegrad/train/cli.h"

int main(int argc, char** argv) { return moegrad::train::run_cli(argc, argv); }
