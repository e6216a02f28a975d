#include <cblas.h>

#include <algorithm>

#include "core/error.h"
#include "core/threading.h"

namespace moegrad {

namespace {
int g_threads = 1;
}

void set_num_threads(int n) {
  MOEGRAD_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  g_threads = n;
  openblas_set_num_threads(n);
}

int num_threads() { return g_threads; }

}  // namespace moegrad
