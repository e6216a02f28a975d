#pragma once
// error_of: the message parse_config gives for a config text, or "" when it loads: shared by the
// config tests, which compare whole located messages. config_error: the same for building a
// module from options (a ConfigError naming the argument).
#include <functional>
#include <string>
#include <vector>

#include "moegrad/train/config.h"

namespace moegrad::test {

inline std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    train::parse_config(yaml, "t.yaml", overrides);
  } catch (const train::ConfigFileError& e) {
    return e.what();
  }
  return "";
}

inline std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace moegrad::test
