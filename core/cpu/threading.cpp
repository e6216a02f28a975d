#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>

#include "moegrad/core/cpu/blas_threads.h"
#include "moegrad/core/cpu/parallel.h"
#include "moegrad/core/error.h"
#include "moegrad/core/threading.h"

namespace moegrad {

namespace {
int g_threads = 1;
std::atomic<int> g_blas_threads{-1};  // what OpenBLAS was last told; -1 before the first call
thread_local int t_serial_depth = 0;
}

void set_num_threads(int n) {
  MOEGRAD_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  g_threads = n;
  cpu::use_blas_threads(n);
}

int num_threads() { return t_serial_depth > 0 ? 1 : g_threads; }

SerialThreadsGuard::SerialThreadsGuard() { ++t_serial_depth; }
SerialThreadsGuard::~SerialThreadsGuard() { --t_serial_depth; }

void parallel_tasks(int64_t n, const std::function<void(int64_t)>& task) {
  // Told on this thread before the tasks start, so the tasks' gemms never change it.
  cpu::use_blas_threads(1);
  // A task that throws on a worker thread must not end the process: the first error is
  // rethrown here, once every task has stopped.
  std::mutex mu;
  std::exception_ptr error;
  cpu::parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
    SerialThreadsGuard serial;
    try {
      for (int64_t t = t0; t < t1; ++t) task(t);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
}

namespace cpu {

// Once its threads exist, openblas_set_num_threads is a plain store: cheap enough per gemm.
void use_blas_threads(int n) {
  if (n == g_blas_threads) return;
  openblas_set_num_threads(n);
  g_blas_threads = n;
}

}  // namespace cpu

}  // namespace moegrad
