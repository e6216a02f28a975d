#pragma once
// Splits [0, n) over the threads set by set_num_threads, in chunks of at least `grain`
// elements; below that it runs inline. Workers sleep on a condition variable between
// jobs (no spinning), so they never compete with OpenBLAS's threads for the cores.
#include <cstdint>
#include <functional>

namespace moegrad::cpu {

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

}  // namespace moegrad::cpu
