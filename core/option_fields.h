#pragma once
// The fields of an options struct, declared once beside it: name, type, allowed range and
// one line of doc; the default is the struct's own. Readers of other formats (the
// trainer's YAML, the parity fixtures' JSON), range checks, writers and docs walk these
// declarations instead of naming the fields again.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "moegrad/core/error.h"

namespace moegrad {

// An integer field's range, inclusive.
struct IntRange {
  int64_t lo, hi;
  bool contains(int64_t v) const { return v >= lo && v <= hi; }
  std::string text() const {  // "an integer in [1, 65536]", "an integer >= 1"
    if (hi == std::numeric_limits<int64_t>::max()) return "an integer >= " + std::to_string(lo);
    return "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  }
};
inline constexpr int64_t kAnyInt = std::numeric_limits<int64_t>::max();

// A number field's range: always finite (no inf or nan), from lo (excluded when lo_open)
// to hi; hi = kAnyFinite means no bound beyond being finite.
inline constexpr double kAnyFinite = std::numeric_limits<double>::max();
struct RealRange {
  double lo;
  bool lo_open;
  double hi;
  bool contains(double v) const { return std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi; }
  std::string text() const {  // "a finite number in (0, 64]", "a finite number >= 0"
    std::ostringstream os;
    if (hi == kAnyFinite) os << "a finite number " << (lo_open ? "> " : ">= ") << lo;
    else os << "a finite number in " << (lo_open ? "(" : "[") << lo << ", " << hi << "]";
    return os.str();
  }
};

// One number, or one per item of a list (st-moe's thresholds).
using NumberOrList = std::variant<double, std::vector<double>>;

template <typename S>
struct IntField {
  IntRange range;
  std::function<int64_t(const S&)> get;
  std::function<void(S&, int64_t)> set;
};
template <typename S>
struct RealField {
  RealRange range;
  std::function<double(const S&)> get;
  std::function<void(S&, double)> set;
};
template <typename S>
struct BoolField {
  std::function<bool(const S&)> get;
  std::function<void(S&, bool)> set;
};
// Free text; `values` says what it takes, for the docs (a registry's names).
template <typename S>
struct TextField {
  std::function<std::string(const S&)> get;
  std::function<void(S&, const std::string&)> set;
  std::function<std::string()> values;
};
// One name of a fixed list (an enum's).
template <typename S>
struct ChoiceField {
  std::vector<std::string> names;
  std::function<std::string(const S&)> get;
  std::function<void(S&, const std::string&)> set;
};
// A number, or a list of numbers, each within `range`.
template <typename S>
struct NumbersField {
  RealRange range;
  std::function<NumberOrList(const S&)> get;
  std::function<void(S&, const NumberOrList&)> set;
};

template <typename S>
struct OptionField {
  std::string name;
  std::string doc;
  std::variant<IntField<S>, RealField<S>, BoolField<S>, TextField<S>, ChoiceField<S>, NumbersField<S>> type;
  // The name st-moe-pytorch gives the argument, where it differs (the parity fixtures use it).
  std::string reference_name = "";
  const std::string& name_in_reference() const { return reference_name.empty() ? name : reference_name; }
};

template <typename S>
using OptionFields = std::vector<OptionField<S>>;

// Declaring a field on a member.
template <typename S>
OptionField<S> int_field(std::string name, std::string doc, IntRange range, int64_t S::*m) {
  return {std::move(name), std::move(doc),
          IntField<S>{range, [m](const S& s) { return s.*m; }, [m](S& s, int64_t v) { s.*m = v; }}};
}
template <typename S>
OptionField<S> real_field(std::string name, std::string doc, RealRange range, double S::*m) {
  return {std::move(name), std::move(doc),
          RealField<S>{range, [m](const S& s) { return s.*m; }, [m](S& s, double v) { s.*m = v; }}};
}
template <typename S>
OptionField<S> bool_field(std::string name, std::string doc, bool S::*m) {
  return {std::move(name), std::move(doc), BoolField<S>{[m](const S& s) { return s.*m; }, [m](S& s, bool v) { s.*m = v; }}};
}
template <typename S>
OptionField<S> text_field(std::string name, std::string doc, std::string S::*m, std::function<std::string()> values) {
  return {std::move(name), std::move(doc),
          TextField<S>{[m](const S& s) { return s.*m; }, [m](S& s, const std::string& v) { s.*m = v; }, std::move(values)}};
}
template <typename S>
OptionField<S> numbers_field(std::string name, std::string doc, RealRange range, NumberOrList S::*m) {
  return {std::move(name), std::move(doc),
          NumbersField<S>{range, [m](const S& s) { return s.*m; }, [m](S& s, const NumberOrList& v) { s.*m = v; }}};
}
// An enum member, through its names.
template <typename S, typename E>
OptionField<S> choice_field(std::string name, std::string doc, std::vector<std::pair<std::string, E>> names, E S::*m) {
  std::vector<std::string> list;
  for (const auto& [n, v] : names) list.push_back(n);
  return {std::move(name), std::move(doc),
          ChoiceField<S>{list,
                         [names, m](const S& s) {
                           for (const auto& [n, v] : names)
                             if (v == s.*m) return n;
                           return std::string("?");
                         },
                         [names, m](S& s, const std::string& name) {
                           for (const auto& [n, v] : names)
                             if (n == name) s.*m = v;
                         }}};
}

// The fields of an options struct held inside another, as the outer struct's fields
// (SparseMoEBlockOptions::moe's fields as the block's).
template <typename Outer, typename Inner>
OptionFields<Outer> nested_fields(const OptionFields<Inner>& inner, std::function<Inner&(Outer&)> at) {
  auto cat = [at](const Outer& o) -> const Inner& { return at(const_cast<Outer&>(o)); };
  OptionFields<Outer> out;
  for (const OptionField<Inner>& f : inner) {
    OptionField<Outer> g{f.name, f.doc, IntField<Outer>{}, f.reference_name};
    std::visit(
        [&](const auto& t) {
          using T = std::decay_t<decltype(t)>;
          auto get = [get = t.get, cat](const Outer& o) { return get(cat(o)); };
          auto set = [set = t.set, at](Outer& o, const auto& v) { set(at(o), v); };
          if constexpr (std::is_same_v<T, IntField<Inner>>) g.type = IntField<Outer>{t.range, get, set};
          else if constexpr (std::is_same_v<T, RealField<Inner>>) g.type = RealField<Outer>{t.range, get, set};
          else if constexpr (std::is_same_v<T, BoolField<Inner>>) g.type = BoolField<Outer>{get, set};
          else if constexpr (std::is_same_v<T, TextField<Inner>>) g.type = TextField<Outer>{get, set, t.values};
          else if constexpr (std::is_same_v<T, ChoiceField<Inner>>) g.type = ChoiceField<Outer>{t.names, get, set};
          else g.type = NumbersField<Outer>{t.range, get, set};
        },
        f.type);
    out.push_back(std::move(g));
  }
  return out;
}

// The field named `name`; an Error when the struct declares none.
template <typename S>
const OptionField<S>& find_field(const OptionFields<S>& fields, const std::string& name) {
  for (const OptionField<S>& f : fields)
    if (f.name == name) return f;
  throw Error("no option field named '" + name + "'");
}

// Copies each field of `from` that `to` declares under the same name and type, but those
// in `except` (MoEOptions' routing fields into its TopNGatingOptions).
template <typename A, typename B>
void copy_shared_fields(const OptionFields<A>& a_fields, const A& from, const OptionFields<B>& b_fields, B& to,
                        const std::vector<std::string>& except = {}) {
  for (const OptionField<B>& g : b_fields) {
    if (std::find(except.begin(), except.end(), g.name) != except.end()) continue;
    for (const OptionField<A>& f : a_fields) {
      if (f.name != g.name) continue;
      std::visit(
          [&](const auto& src) {
            using T = std::decay_t<decltype(src)>;
            using U = decltype(T{}.get(from));
            std::visit(
                [&](const auto& dst) {
                  if constexpr (std::is_same_v<decltype(dst.get(to)), U>) dst.set(to, src.get(from));
                },
                g.type);
          },
          f.type);
    }
  }
}

// Throws ConfigError(field name, "must be RANGE, got V") for the first field of `s` outside
// its declared range. Rules between fields stay with the struct's validate().
template <typename S>
void check_field_ranges(const OptionFields<S>& fields, const S& s) {
  for (const OptionField<S>& f : fields) {
    std::ostringstream got;
    if (const auto* i = std::get_if<IntField<S>>(&f.type)) {
      const int64_t v = i->get(s);
      got << v;
      if (!i->range.contains(v)) throw ConfigError(f.name, "must be " + i->range.text() + ", got " + got.str());
    } else if (const auto* r = std::get_if<RealField<S>>(&f.type)) {
      const double v = r->get(s);
      got << v;
      if (!r->range.contains(v)) throw ConfigError(f.name, "must be " + r->range.text() + ", got " + got.str());
    } else if (const auto* n = std::get_if<NumbersField<S>>(&f.type)) {
      const NumberOrList v = n->get(s);
      std::vector<double> values;
      if (const auto* one = std::get_if<double>(&v)) values = {*one};
      else values = std::get<std::vector<double>>(v);
      for (size_t k = 0; k < values.size(); ++k) {
        if (n->range.contains(values[k])) continue;
        got << values[k];
        const std::string where = std::holds_alternative<double>(v) ? f.name : f.name + "[" + std::to_string(k) + "]";
        throw ConfigError(where, "must be " + n->range.text() + ", got " + got.str());
      }
    }
  }
}

}  // namespace moegrad
