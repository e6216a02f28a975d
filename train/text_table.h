#pragma once
// Plain-text tables for terminals: columns right-aligned to their widest cell.
#include <string>
#include <vector>

namespace moegrad::train {

// One line per row, each starting with `prefix` ("#" makes YAML comments), its cells
// right-aligned and separated by two spaces; rows may differ in length.
std::string text_table(const std::vector<std::vector<std::string>>& rows, const std::string& prefix = "");

}  // namespace moegrad::train
