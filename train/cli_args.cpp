#include "moegrad/train/cli_args.h"

#include <charconv>
#include <cmath>

#include "moegrad/core/error.h"

namespace moegrad::train {

namespace {
// The option's text as the user typed it, cut short if it is long.
std::string shown(const std::string& text) { return text.size() <= 40 ? text : text.substr(0, 40) + "..."; }
}  // namespace

int64_t int_arg(const std::string& option, const std::string& text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || v < lo || v > hi)
    throw ConfigError(option, "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                  "], got '" + shown(text) + "'");
  return v;
}

uint64_t seed_arg(const std::string& option, const std::string& text) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);  // no sign, no exponent
  if (ec != std::errc() || p != end || text.empty())
    throw ConfigError(option, "must be an integer in [0, 18446744073709551615], got '" + shown(text) + "'");
  return v;
}

double positive_arg(const std::string& option, const std::string& text, double hi) {
  double v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || !std::isfinite(v) || !(v > 0) || v > hi)
    throw ConfigError(option, "must be a number in (0, " + std::to_string(static_cast<int64_t>(hi)) + "], got '" +
                                  shown(text) + "'");
  return v;
}

Device device_arg(const std::string& option, const std::string& text) {
  const Device d = Device::parse(text, option);
  if (std::string why = device_unavailable_reason(d); !why.empty()) throw ConfigError(option, why);
  return d;
}

}  // namespace moegrad::train
