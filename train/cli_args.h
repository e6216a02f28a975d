#pragma once
// Numeric command-line options, parsed strictly. CLI11 reads "-1" into an unsigned seed as
// 2^64-1, rounds "1e23" into an integer, and reports its range checks as 300-digit doubles;
// so numbers are taken as text and parsed here, and anything else is a ConfigError naming
// the option and its range (exit 2).
#include <cstdint>
#include <string>

#include "moegrad/core/device.h"

namespace moegrad::train {

// More kernel threads than this is never useful here, and thread creation fails long before.
inline constexpr int64_t kMaxThreads = 1024;

// A plain decimal integer in [lo, hi].
int64_t int_arg(const std::string& option, const std::string& text, int64_t lo, int64_t hi);
// A plain decimal integer in [0, 2^64 - 1].
uint64_t seed_arg(const std::string& option, const std::string& text);
// A finite number in (lo, hi].
double positive_arg(const std::string& option, const std::string& text, double hi);
// cpu, cuda or cuda:N, and present here: otherwise a ConfigError naming the option and why
// ("built without CUDA", "no CUDA device found").
Device device_arg(const std::string& option, const std::string& text);

}  // namespace moegrad::train
