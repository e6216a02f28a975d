// Out of memory under a memory cap must be an OutOfMemoryError naming what was allocated,
// never "terminate called without an active exception" (exit 134). A child process lowers
// its address-space limit (ulimit -v) and then allocates tensors and builds a graph until
// allocation fails; the parent checks that the child caught the error and exited normally.
//
// Exit codes: 0 pass, 1 fail, 77 not run (ctest's SKIP_RETURN_CODE): under AddressSanitizer
// an address-space cap cannot work, since its shadow memory alone exceeds any such cap.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/core/memory_budget.h"

#if defined(__SANITIZE_ADDRESS__)
#define MOEGRAD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOEGRAD_ASAN 1
#endif
#endif

using namespace moegrad;

namespace {

long long vm_size_bytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  long long kb = 0;
  while (f && std::fgets(line, sizeof(line), f))
    if (std::sscanf(line, "VmSize: %lld kB", &kb) == 1) break;
  if (f) std::fclose(f);
  return kb * 1024;
}

// Runs in the child: 0 when the OOM arrived as an OutOfMemoryError naming its bytes.
int allocate_until_out_of_memory() {
  rlimit cap{};
  cap.rlim_cur = cap.rlim_max = static_cast<rlim_t>(vm_size_bytes() + (int64_t{256} << 20));
  if (setrlimit(RLIMIT_AS, &cap) != 0) return 1;
  try {
    // A graph whose activations grow until the cap is hit, then unwound: the block cache's
    // free path runs during the unwinding, where it once allocated and called terminate.
    // Elementwise ops only: OpenBLAS sizes its own buffers at first use and would fail
    // inside the cap on its own terms.
    Generator gen(0);
    Tensor scale = requires_grad_(full({1}, 0.5));
    std::vector<Tensor> kept;
    Tensor h = randn({1 << 20}, gen);
    for (int i = 0; i < 100000; ++i) {
      h = tanh(h * scale);
      kept.push_back(h);
    }
    std::fprintf(stderr, "oom_under_cap: the cap was never reached\n");
    return 1;
  } catch (const OutOfMemoryError& e) {
    const bool named = std::strstr(e.what(), "bytes") != nullptr;
    std::fprintf(stderr, "oom_under_cap: caught: %s\n", e.what());
    return named ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "oom_under_cap: wrong exception: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int main() {
#ifdef MOEGRAD_ASAN
  std::puts("oom_under_cap: not run under AddressSanitizer (an address-space cap cannot hold its shadow memory)");
  return 77;
#else
  const pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) _exit(allocate_until_out_of_memory());
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    std::printf("oom_under_cap: the child was killed by signal %d (an abort is the bug)\n", WTERMSIG(status));
    return 1;
  }
  std::printf("oom_under_cap: child exit status %d\n", WEXITSTATUS(status));
  return WEXITSTATUS(status) == 0 ? 0 : 1;
#endif
}
