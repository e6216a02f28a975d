#pragma once
// Where a tensor lives: "cpu", or "cuda:N". Every tensor's Backend serves one Device, and
// backend_for() finds the Backend of a Device, so code above core/ names devices, never
// backends.
#include <cstdint>
#include <ostream>
#include <string>

namespace moegrad {

class Backend;

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;  // which GPU; always 0 for the cpu

  static Device cpu() { return {}; }
  static Device cuda(int index = 0) { return {DeviceType::cuda, index}; }
  // "cpu", "cuda" (= cuda:0) or "cuda:N"; ConfigError(key) otherwise.
  static Device parse(const std::string& text, const std::string& key = "device");

  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  std::string str() const;  // "cpu", "cuda:0"
  bool operator==(const Device&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Device& d);

// The Backend serving `d`. A cuda device this build or machine cannot serve is an Error
// that says which: not built with CUDA, no CUDA device found, or fewer devices than asked
// (core/cuda/cuda_backend.h has the CUDA side).
Backend& backend_for(const Device& d);

// backend_for(d) without creating anything: an empty string when `d` can be used, else
// why not (the same words as backend_for's error), for checking a config before a run.
std::string device_unavailable_reason(const Device& d);

}  // namespace moegrad
