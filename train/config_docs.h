#pragma once
// The key tables of configs/README.md, generated from the schema (config_schema.h):
// `moegrad config-docs` prints them, `--update FILE` rewrites them in place and `--check
// FILE` fails when the committed ones are stale (a test runs it on configs/README.md).
#include <string>

namespace moegrad::train {

// The generated block, between its two marker lines (included).
std::string config_docs_markdown();

// FILE with its generated block replaced by config_docs_markdown(); throws an Error naming
// the file when it has no block (its two marker lines).
std::string with_config_docs(const std::string& file_text, const std::string& file);

}  // namespace moegrad::train
