#include "moegrad/train/config_docs.h"

#include "moegrad/core/error.h"
#include "moegrad/train/config_schema.h"

namespace moegrad::train {

namespace {

constexpr const char* kBegin =
    "<!-- config-docs: generated from train/config_schema.cpp by `moegrad config-docs --update configs/README.md`; "
    "do not edit by hand -->";
constexpr const char* kEnd = "<!-- end config-docs -->";

void section_tables(const ConfigSection& s, const std::string& prefix, std::string& out) {
  if (!s.keys.empty()) {
    out += "\n## " + s.title + "\n\n| key | default | values | meaning |\n| --- | --- | --- | --- |\n";
    for (const ConfigKey& k : s.keys)
      out += "| `" + k.name + "` | `" + default_text(k) + "` | " + values_text(k) + " | " + k.doc + " |\n";
  }
  for (const ConfigSection& sub : s.sections)
    section_tables(sub, prefix.empty() ? sub.name : prefix + "." + sub.name, out);
}

}  // namespace

std::string config_docs_markdown() {
  std::string out = std::string(kBegin) + "\n";
  section_tables(config_schema(), "", out);
  return out + "\n" + kEnd + "\n";
}

std::string with_config_docs(const std::string& text, const std::string& file) {
  const size_t begin = text.find(kBegin);
  const size_t end = begin == std::string::npos ? std::string::npos : text.find(kEnd, begin);
  if (end == std::string::npos)
    throw Error(file + ": no generated config tables to replace (the lines '" + std::string(kBegin) + "' and '" +
                kEnd + "')");
  size_t after = end + std::string(kEnd).size();
  if (after < text.size() && text[after] == '\n') ++after;
  return text.substr(0, begin) + config_docs_markdown() + text.substr(after);
}

}  // namespace moegrad::train
