#include "moegrad/train/text_table.h"

#include <fmt/format.h>

#include <algorithm>

namespace moegrad::train {

std::string text_table(const std::vector<std::vector<std::string>>& rows, const std::string& prefix) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    out += prefix;
    for (size_t c = 0; c < row.size(); ++c) out += fmt::format("  {:>{}}", row[c], width[c]);
    out += "\n";
  }
  return out;
}

}  // namespace moegrad::train
