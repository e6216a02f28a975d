#pragma once
// How much memory this process may still use, and the pre-check that refuses a job whose
// estimated footprint cannot fit, before anything is allocated (so a hostile size is a
// message, not 30 s of page faults or the OOM killer).
#include <cstdint>
#include <string>

#include "moegrad/core/error.h"

namespace moegrad {

// Thrown when memory runs out or would: the message names what was being allocated and
// how many bytes, and for a pre-check also what is available.
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

// The smallest of: MemAvailable (/proc/meminfo), the address-space limit (ulimit -v) less
// what is mapped now, and the cgroup's memory.max less its usage. INT64_MAX if none is known.
int64_t available_memory_bytes();

// "1.50 GiB", "512 MiB", "2048 bytes".
std::string format_bytes(int64_t bytes);

// Throws OutOfMemoryError("`what` needs an estimated X, but only Y is available") when
// `estimate_bytes` exceeds what is available.
void require_memory(int64_t estimate_bytes, const std::string& what);

}  // namespace moegrad
