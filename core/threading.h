#pragma once
// How many threads the CPU kernels and OpenBLAS may use. One setting for both, so the
// two never oversubscribe the machine.
namespace moegrad {

void set_num_threads(int n);
int num_threads();

}  // namespace moegrad
