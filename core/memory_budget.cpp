#include "moegrad/core/memory_budget.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

namespace moegrad {

namespace {

constexpr int64_t kUnknown = std::numeric_limits<int64_t>::max();

// The first number after `key` in a "key value kB" file such as /proc/meminfo, in bytes.
int64_t meminfo_bytes(const char* path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream ss(line.substr(key.size()));
    long long kb = 0;
    if (ss >> kb) return static_cast<int64_t>(kb) * 1024;
  }
  return kUnknown;
}

int64_t single_number(const std::string& path) {
  std::ifstream in(path);
  long long v = 0;
  if (in >> v) return static_cast<int64_t>(v);
  return kUnknown;  // missing, or "max"
}

// Bytes of address space this process has mapped now (VmSize).
int64_t mapped_bytes() { return meminfo_bytes("/proc/self/status", "VmSize:"); }

// The cgroup v2 limit left to this process's group.
int64_t cgroup_left() {
  std::ifstream in("/proc/self/cgroup");
  std::string line, rel;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) rel = line.substr(3);
  if (rel.empty()) return kUnknown;
  const std::string dir = "/sys/fs/cgroup" + (rel == "/" ? std::string() : rel);
  const int64_t max = single_number(dir + "/memory.max");
  if (max == kUnknown) return kUnknown;
  const int64_t used = single_number(dir + "/memory.current");
  return used == kUnknown ? max : std::max<int64_t>(0, max - used);
}

}  // namespace

int64_t available_memory_bytes() {
  int64_t avail = meminfo_bytes("/proc/meminfo", "MemAvailable:");
  rlimit lim{};
  if (getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    const int64_t cap = static_cast<int64_t>(std::min<rlim_t>(lim.rlim_cur, kUnknown));
    const int64_t mapped = mapped_bytes();
    avail = std::min(avail, mapped == kUnknown ? cap : std::max<int64_t>(0, cap - mapped));
  }
  return std::min(avail, cgroup_left());
}

std::string format_bytes(int64_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof(buf), "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024) std::snprintf(buf, sizeof(buf), "%.1f MiB", b / (1024.0 * 1024));
  else std::snprintf(buf, sizeof(buf), "%lld bytes", static_cast<long long>(bytes));
  return buf;
}

void require_memory(int64_t estimate_bytes, const std::string& what) {
  const int64_t avail = available_memory_bytes();
  if (estimate_bytes <= avail) return;
  throw OutOfMemoryError(what + " needs an estimated " + format_bytes(estimate_bytes) + ", but only " +
                         (avail == kUnknown ? std::string("an unknown amount") : format_bytes(avail)) +
                         " is available");
}

}  // namespace moegrad
