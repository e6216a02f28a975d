// MOEGRAD_PORTABLE only (cmake/Portable.cmake). The static libstdc++ of GCC 12 on Debian 12
// calls arc4random (std::random_device), which glibc has only since 2.36; defined here on
// getrandom (glibc 2.25), the binaries also load on glibc 2.35 (Ubuntu 22.04, a common base
// of CUDA images). The unwinder's _dl_find_object keeps 2.35 the oldest glibc they need.
#include <stdlib.h>
#include <sys/random.h>

#include <cstdint>

extern "C" uint32_t arc4random(void) noexcept {
  uint32_t v = 0;
  while (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) {
  }
  return v;
}
