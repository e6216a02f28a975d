#pragma once
// A cap on the nesting of JSON read from files. nlohmann::json builds every nested level
// as its own heap object, so an 80 MB header of "[[[[..." inflates to gigabytes before a
// reader could look at it; the cap is checked by a linear scan of the text first.
#include <string>
#include <string_view>

namespace moegrad::nn {

// No file moegrad reads needs more than a few levels: a header is object -> object -> list.
inline constexpr int kMaxJsonDepth = 32;

// "nests deeper than N levels of [ and {" when `text` does, else "". Brackets inside
// strings are not counted.
std::string json_nesting_problem(std::string_view text, int max_depth);

}  // namespace moegrad::nn
