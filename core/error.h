#pragma once
// Errors thrown by every layer. Messages name the op and the shapes involved, so
// a user reading one line knows what was passed and what was expected.
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#include <cstdint>

namespace moegrad {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad option or argument: `key` names it in the vocabulary the user wrote it in
// (constructor argument, JSON or YAML key path), `what()` reads "key: message".
class ConfigError : public Error {
 public:
  ConfigError(std::string key, const std::string& message)
      : Error(key + ": " + message), key_(std::move(key)), message_(message) {}
  const std::string& key() const { return key_; }
  const std::string& message() const { return message_; }

 private:
  std::string key_;
  std::string message_;
};

namespace detail {
inline void append(std::ostream& os, const std::vector<int64_t>& v) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
}
template <typename T>
void append(std::ostream& os, const T& v) {
  os << v;
}
}  // namespace detail

template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (detail::append(os, args), ...);
  return os.str();
}

}  // namespace moegrad

#define MOEGRAD_CHECK(cond, ...)                                   \
  do {                                                             \
    if (!(cond)) throw ::moegrad::Error(::moegrad::str_cat(__VA_ARGS__)); \
  } while (0)
