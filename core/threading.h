#pragma once
#include <cstdint>
#include <functional>
// How many threads the CPU kernels and OpenBLAS may use. One setting for both, so the
// two never oversubscribe the machine.
namespace moegrad {

void set_num_threads(int n);
// The threads this thread's kernels may use: 1 inside a SerialThreadsGuard.
int num_threads();

// While alive, kernels called from this thread run on it alone: for work that is itself
// already spread over the threads (one task per thread), so that it is not split again.
class SerialThreadsGuard {
 public:
  SerialThreadsGuard();
  ~SerialThreadsGuard();
  SerialThreadsGuard(const SerialThreadsGuard&) = delete;
  SerialThreadsGuard& operator=(const SerialThreadsGuard&) = delete;
};

// task(0) ... task(n - 1), spread over the threads; each task runs on one thread, and its
// kernels (OpenBLAS included) run single-threaded. For n independent pieces of work of
// similar size, such as one list of experts per thread.
void parallel_tasks(int64_t n, const std::function<void(int64_t)>& task);

}  // namespace moegrad
