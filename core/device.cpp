#include "moegrad/core/device.h"

#include <charconv>

#include "moegrad/core/backend.h"
#include "moegrad/core/cuda/cuda_backend.h"
#include "moegrad/core/error.h"

namespace moegrad {

Device Device::parse(const std::string& text, const std::string& key) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const char* first = text.data() + 5;
    const char* last = text.data() + text.size();
    int index = -1;
    auto [end, ec] = std::from_chars(first, last, index);
    if (ec == std::errc() && end == last && first != last && index >= 0 && index < 1024) return cuda(index);
  }
  throw ConfigError(key, "must be cpu, cuda or cuda:N, got '" + text.substr(0, 64) + "'");
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

std::string device_unavailable_reason(const Device& d) {
  if (d.is_cpu()) return "";
  const int n = cuda_device_count();
  if (n == 0) return d.str() + ": " + cuda_unavailable_reason();
  if (d.index >= n) return str_cat(d.str(), ": this machine has ", n, " CUDA device", n == 1 ? "" : "s");
  return "";
}

Backend& backend_for(const Device& d) {
  if (d.is_cpu()) return cpu_backend();
  if (std::string why = device_unavailable_reason(d); !why.empty()) throw Error(why);
  return cuda_backend(d.index);
}

}  // namespace moegrad
