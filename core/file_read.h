#pragma once
// Reading a whole file that a user named. The path may be anything: a directory, a FIFO,
// /dev/zero, a sparse 50 GB file, /proc/self/mem. Only regular files are read, and never
// more than `max_bytes`, so a hostile path is an error naming the file, not a hang or an
// out-of-memory kill.
#include <cstdint>
#include <string>

namespace moegrad {

// Upper bounds for each kind of file the framework reads whole; the error states them.
inline constexpr int64_t kMaxConfigFileBytes = int64_t{16} << 20;       // YAML configs
inline constexpr int64_t kMaxTextFileBytes = int64_t{256} << 20;        // data.path corpora
inline constexpr int64_t kMaxTensorFileBytes = int64_t{16} << 30;       // safetensors, fixtures

// The bytes of `path`; throws Error("PATH: ...") if it is missing, not a regular file,
// larger than `max_bytes`, or unreadable.
std::string read_file(const std::string& path, int64_t max_bytes = kMaxTensorFileBytes);

}  // namespace moegrad
