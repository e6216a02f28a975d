#include "moegrad/nn/json_depth.h"

namespace moegrad::nn {

std::string json_nesting_problem(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) return "nests deeper than " + std::to_string(max_depth) + " levels of [ and {";
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return "";
}

}  // namespace moegrad::nn
