// Config -> YAML with every key that applies resolved, in schema order (config_schema.h).
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>

#include "moegrad/train/config.h"
#include "moegrad/train/config_schema.h"

namespace moegrad::train {

namespace {

// A number written in its shortest form that reads back exactly (0.2, not
// 0.20000000000000001): the fewest significant digits that round-trip.
struct Real {
  double v;
};
YAML::Emitter& operator<<(YAML::Emitter& out, Real r) {
  int digits = 1;
  for (; digits < 17; ++digits) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", digits, r.v);
    if (std::strtod(buf, nullptr) == r.v) break;
  }
  out.SetDoublePrecision(digits);
  return out << r.v;
}

void emit_threshold(YAML::Emitter& out, const moe::Threshold& t) {
  if (auto* list = std::get_if<std::vector<double>>(&t)) {
    out << YAML::Flow << YAML::BeginSeq;
    for (double v : *list) out << Real{v};
    out << YAML::EndSeq;
  } else {
    out << Real{std::get<double>(t)};
  }
}

void emit_router(YAML::Emitter& out, const std::optional<moe::MoERouterOptions>& router) {
  if (!router) {
    out << YAML::Null;
    return;
  }
  out << YAML::BeginMap << YAML::Key << "hidden_layers" << YAML::Value;
  if (auto* w = std::get_if<std::vector<int64_t>>(&router->hidden_layers)) {
    out << YAML::Flow << YAML::BeginSeq;
    for (int64_t v : *w) out << v;
    out << YAML::EndSeq;
  } else if (auto* n = std::get_if<int64_t>(&router->hidden_layers)) {
    out << *n;
  } else {
    out << YAML::Null;
  }
  out << YAML::Key << "mechanism" << YAML::Value
      << (router->mechanism == moe::RouterMechanism::gumbel ? "gumbel" : "softmax") << YAML::EndMap;
}

// A key's value, as its declaration in the schema says.
void emit_value(YAML::Emitter& out, const ConfigKey& key, const Config& c) {
  std::visit(
      [&](const auto& k) {
        using K = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<K, IntKey>) {
          out << k.get(c);
        } else if constexpr (std::is_same_v<K, RealKey>) {
          out << Real{k.get(c)};
        } else if constexpr (std::is_same_v<K, BoolKey>) {
          out << k.get(c);
        } else if constexpr (std::is_same_v<K, TextKey>) {
          const std::string v = k.get(c);
          if (k.null_is_empty && v.empty()) out << YAML::Null;
          else out << v;
        } else if constexpr (std::is_same_v<K, ChoiceKey>) {
          out << k.get(c);
        } else if constexpr (std::is_same_v<K, ThresholdKey>) {
          emit_threshold(out, k.get(c));
        } else if constexpr (std::is_same_v<K, BetasKey>) {
          out << YAML::Flow << YAML::BeginSeq << Real{c.optim.beta1} << Real{c.optim.beta2} << YAML::EndSeq;
        } else {
          emit_router(out, c.model.moe_block.moe.router);
        }
      },
      key.type);
}

// The keys that apply to c's kinds, then the nested sections.
void emit_section(YAML::Emitter& out, const ConfigSection& schema, const Config& c) {
  out << YAML::BeginMap;
  for (const ConfigKey& key : schema.keys) {
    if (key.applies && !key.applies(c)) continue;
    out << YAML::Key << key.name << YAML::Value;
    emit_value(out, key, c);
  }
  for (const ConfigSection& sub : schema.sections) {
    out << YAML::Key << sub.name << YAML::Value;
    emit_section(out, sub, c);
  }
  out << YAML::EndMap;
}

}  // namespace

std::string to_yaml(const Config& c) {
  YAML::Emitter out;
  emit_section(out, config_schema(), c);
  return std::string(out.c_str()) + "\n";
}

std::string default_text(const ConfigKey& key) {
  YAML::Emitter out;
  out << YAML::Flow;
  emit_value(out, key, Config{});
  const std::string text = out.c_str();
  return text == "~" ? "null" : text;
}

}  // namespace moegrad::train
