// YAML -> Config. Every key is read through a Section that knows the key's full path and
// its line, so each error names the file, the line, the key and what was expected.
#include <yaml-cpp/yaml.h>

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "moegrad/core/file_read.h"
#include "moegrad/train/char_corpus.h"
#include "moegrad/core/memory_budget.h"
#include "moegrad/train/config.h"
#include "moegrad/train/config_schema.h"
#include "moegrad/train/model_kind.h"
#include "moegrad/train/optimizer_kind.h"
#include "moegrad/train/schedule_kind.h"
#include "moegrad/train/task_kind.h"
#include "moegrad/train/memory_estimate.h"

namespace moegrad::train {

namespace {

// Values echoed in messages are cut here, so a 50 MB value does not come back in full.
constexpr size_t kEchoChars = 80;
std::string echo(const std::string& v) {
  if (v.size() <= kEchoChars) return v;
  return v.substr(0, kEchoChars) + "... (" + std::to_string(v.size()) + " characters)";
}

// Where a key came from: a line of the file (or of a file it extends), or a --set override.
struct Source {
  std::string file;
  std::set<std::string> overridden;
  std::map<std::string, std::string> located;  // key path -> "file:line" as read
  std::map<std::string, std::string> file_of;  // key path -> the file that gave it (extends)

  std::string location(const std::string& key, const YAML::Mark& mark) const {
    for (const std::string& o : overridden)
      if (key == o || key.rfind(o + ".", 0) == 0 || o.rfind(key + ".", 0) == 0) return "--set " + o;
    const std::string& f = file_holding(key);
    if (mark.line >= 0) return f + ":" + std::to_string(mark.line + 1);
    return f;
  }
  // The file that gave `key`, or the nearest section above it; the top file by default.
  const std::string& file_holding(std::string key) const {
    for (;;) {
      if (auto it = file_of.find(key); it != file_of.end()) return it->second;
      const size_t cut = key.find_last_of(".[");
      if (cut == std::string::npos) return file;
      key.resize(cut);
    }
  }
  std::string located_at(const std::string& key) const {
    auto it = located.find(key);
    // An element of a list not located itself ("key[3]") is blamed on its list.
    if (it == located.end() && key.find('[') != std::string::npos) it = located.find(key.substr(0, key.find('[')));
    return it != located.end() ? it->second : file;
  }
  // A rule between keys (model.kind needs data.task ...) is broken by whichever of them was
  // given last, so every --set among the related keys is named before the key's own place.
  [[noreturn]] void fail(const std::string& key, const std::string& message,
                         const std::vector<std::string>& related = {}) const {
    std::string where;
    for (const std::string& r : related)
      if (const std::string at = located_at(r); at.rfind("--set ", 0) == 0) where += at + ", ";
    throw ConfigFileError(where + located_at(key), key, message);
  }
};

class Section {
 public:
  Section(YAML::Node node, std::string path, Source& src) : node_(std::move(node)), path_(std::move(path)), src_(src) {
    if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap())
      throw ConfigFileError(src_.location(path_, node_.Mark()), path_.empty() ? "(top level)" : path_,
                            "expected a mapping of keys to values");
  }

  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  bool present(const std::string& key) const {
    return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
  }
  YAML::Node raw(const std::string& key) {
    seen_.insert(key);
    YAML::Node n = node_.IsMap() ? node_[key] : YAML::Node();
    src_.located[key_path(key)] = src_.location(key_path(key), n.IsDefined() ? n.Mark() : node_.Mark());
    return n;
  }

  // The key's scalar, or nothing when the key is absent or null (the default stays).
  std::optional<YAML::Node> scalar(const std::string& key, const std::string& expected) {
    YAML::Node n = raw(key);
    if (!n.IsDefined() || n.IsNull()) return std::nullopt;
    if (!n.IsScalar()) src_.fail(key_path(key), "expected " + expected);
    return n;
  }
  void read(const std::string& key, int64_t& target, IntRange r) {
    const std::string expected = "an integer in [" + std::to_string(r.lo) + ", " + std::to_string(r.hi) + "]";
    if (auto n = scalar(key, expected)) target = parse_int(n->Scalar(), r, key_path(key), expected);
  }
  void read(const std::string& key, double& target, RealRange r) {
    auto found = scalar(key, r.text());
    if (!found) return;
    const YAML::Node& n = *found;
    double v = 0;
    try {
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      src_.fail(key_path(key), "expected " + r.text() + ", got '" + echo(n.Scalar()) + "'");
    }
    if (!r.contains(v)) src_.fail(key_path(key), "must be " + r.text() + ", got " + echo(n.Scalar()));
    target = v;
  }
  void read(const std::string& key, bool& t) {
    auto n = scalar(key, "true or false");
    if (!n) return;
    try {
      t = n->as<bool>();
    } catch (const YAML::Exception&) {
      src_.fail(key_path(key), "expected true or false, got '" + echo(n->Scalar()) + "'");
    }
  }
  void read(const std::string& key, std::string& t) {
    if (auto n = scalar(key, "a string")) t = n->Scalar();
  }

  // An integer literal (yaml-cpp would read "1.5" as 1 through a stream) within r.
  int64_t parse_int(const std::string& s, IntRange r, const std::string& key, const std::string& expected) const {
    int64_t v = 0;
    const char* first = s.data() + (s.size() > 1 && s[0] == '+' ? 1 : 0);
    auto [end, ec] = std::from_chars(first, s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < r.lo || v > r.hi)
      src_.fail(key, "expected " + expected + ", got '" + echo(s) + "'");
    return v;
  }

  // Records the line of element i of a list read at `key`, so its errors are located.
  void locate_element(const std::string& key, size_t i, const YAML::Node& element) {
    const std::string k = key_path(key) + "[" + std::to_string(i) + "]";
    src_.located[k] = src_.location(key_path(key), element.Mark());
  }

  Section child(const std::string& key) { return Section(raw(key), key_path(key), src_); }

  // Every key of the section was read; `renamed` maps names written elsewhere to ours.
  void finish(const std::vector<std::pair<std::string, std::string>>& renamed = {}) const {
    if (!node_.IsMap()) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (!it->first.IsScalar())
        throw ConfigFileError(src_.location(path_, it->first.Mark()), path_.empty() ? "(top level)" : path_,
                              "keys must be plain names, got a " +
                                  std::string(it->first.IsMap() ? "mapping" : "list") + " as a key");
      const std::string k = it->first.as<std::string>();
      if (seen_.count(k)) continue;
      for (const auto& [old_name, name] : renamed)
        if (k == old_name)
          throw ConfigFileError(src_.location(key_path(k), it->first.Mark()), key_path(k),
                                "is called " + key_path(name) + " here");
      throw ConfigFileError(src_.location(key_path(k), it->first.Mark()), key_path(echo(k)), "unknown key");
    }
  }

 private:
  YAML::Node node_;
  std::string path_;
  Source& src_;
  std::set<std::string> seen_;
};

template <typename E>
E read_enum(Section& s, const std::string& key, E current, const std::vector<std::pair<std::string, E>>& names,
            Source& src) {
  std::string v;
  s.read(key, v);
  if (v.empty()) return current;
  std::string choices;
  for (auto& [name, value] : names) {
    if (name == v) return value;
    choices += (choices.empty() ? "" : ", ") + name;
  }
  src.fail(s.key_path(key), "must be one of " + choices + ", got '" + echo(v) + "'");
}

moe::Threshold read_threshold(Section& s, const std::string& key, moe::Threshold current, Source& src) {
  YAML::Node n = s.raw(key);
  if (!n.IsDefined() || n.IsNull()) return current;
  try {
    if (!n.IsSequence()) return n.as<double>();
    for (size_t i = 0; i < n.size(); ++i) s.locate_element(key, i, n[i]);
    return n.as<std::vector<double>>();
  } catch (const YAML::Exception&) {
    src.fail(s.key_path(key), "expected a number or a list of numbers");
  }
}

// Every mapping in the tree has distinct keys: yaml-cpp would keep the first silently.
void check_duplicate_keys(const YAML::Node& node, const std::string& path, const std::string& file) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) check_duplicate_keys(node[i], path + "[" + std::to_string(i) + "]", file);
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, int> first_line;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) continue;  // reported as a key that is not a name
    const std::string k = it->first.Scalar();
    const std::string key = path.empty() ? echo(k) : path + "." + echo(k);
    const int line = it->first.Mark().line + 1;
    auto [pos, fresh] = first_line.emplace(k, line);
    if (!fresh)
      throw ConfigFileError(file + ":" + std::to_string(line), key,
                            "duplicate key (first given at line " + std::to_string(pos->second) + ")");
    check_duplicate_keys(it->second, key, file);
  }
}

void apply_override(YAML::Node& root, const std::string& assignment, Source& src) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigFileError("--set " + echo(assignment), echo(assignment), "expected key.path=value");
  const std::string key = echo(assignment.substr(0, eq));
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
    check_duplicate_keys(value, key, "--set " + key);
  } catch (const YAML::Exception& e) {
    throw ConfigFileError("--set " + key, key, std::string("value is not valid YAML: ") + e.what());
  }
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  // Walk down with fresh handles: yaml-cpp's operator= on a Node handle rebinds it.
  std::function<void(YAML::Node, size_t)> set = [&](YAML::Node node, size_t i) {
    if (i + 1 == parts.size()) {
      node[parts[i]] = value;
      return;
    }
    if (!node[parts[i]].IsDefined() || node[parts[i]].IsNull()) node[parts[i]] = YAML::Node(YAML::NodeType::Map);
    if (!node[parts[i]].IsMap())
      throw ConfigFileError("--set " + key, key, "'" + echo(parts[i]) + "' is not a section");
    set(node[parts[i]], i + 1);
  };
  set(root, 0);
  src.overridden.insert(key);
}

void check(bool ok, const Source& src, const std::string& key, const std::string& message,
           const std::vector<std::string>& related = {}) {
  if (!ok) src.fail(key, message, related);
}

template <typename T>
std::string got(const T& v) {
  std::ostringstream os;
  os << ", got " << v;
  return os.str();
}

void read_router(Section& s, const ConfigKey& key, const RouterKey& rk, Config& c, Source& src) {
  if (!s.present(key.name)) {
    s.raw(key.name);
    c.model.moe_block.moe.router.reset();
    return;
  }
  Section r = s.child(key.name);
  moe::MoERouterOptions ro;
  YAML::Node h = r.raw("hidden_layers");
  const std::string path = r.key_path("hidden_layers");
  const IntRange count{0, rk.max_layers};
  const std::string widths_text = "an integer in [" + std::to_string(rk.widths.lo) + ", " + std::to_string(rk.widths.hi) + "]";
  if (h.IsScalar()) {
    ro.hidden_layers = r.parse_int(h.Scalar(), count, path,
                                   "null, an integer in [0, " + std::to_string(rk.max_layers) + "] or a list of widths");
  } else if (h.IsSequence()) {
    if (h.size() > static_cast<size_t>(rk.max_layers))
      src.fail(path, "at most " + std::to_string(rk.max_layers) + " layers, got " + std::to_string(h.size()));
    std::vector<int64_t> w;
    for (size_t i = 0; i < h.size(); ++i) {
      r.locate_element("hidden_layers", i, h[i]);
      const std::string element = path + "[" + std::to_string(i) + "]";
      if (!h[i].IsScalar()) src.fail(element, "expected " + widths_text);
      w.push_back(r.parse_int(h[i].Scalar(), rk.widths, element, widths_text));
    }
    ro.hidden_layers = w;
  } else if (h.IsDefined() && !h.IsNull()) {
    src.fail(path, "expected null, an integer or a list of integers");
  }
  const auto& mechanism = std::get<ChoiceField<moe::MoERouterOptions>>(
      find_field(moe::MoERouterOptions::fields(), "mechanism").type);
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& n : mechanism.names) names.emplace_back(n, n);
  mechanism.set(ro, read_enum<std::string>(r, "mechanism", mechanism.get(ro), names, src));
  r.finish();
  c.model.moe_block.moe.router = ro;
}

void read_betas(Section& s, const ConfigKey& key, Config& c, Source& src) {
  YAML::Node betas = s.raw(key.name);
  if (!betas.IsDefined() || betas.IsNull()) return;
  std::vector<double> b;
  try {
    b = betas.as<std::vector<double>>();
  } catch (const std::exception&) {
  }
  check(b.size() == 2, src, s.key_path(key.name), "expected a list of two numbers [beta1, beta2]");
  c.optim.beta1 = b[0];
  c.optim.beta2 = b[1];
}

// One key, as its declaration in the schema says.
void read_key(Section& s, const ConfigKey& key, Config& c, Source& src) {
  std::visit(
      [&](const auto& k) {
        using K = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<K, IntKey>) {
          int64_t v = k.get(c);
          s.read(key.name, v, k.range);
          k.set(c, v);
        } else if constexpr (std::is_same_v<K, RealKey>) {
          double v = k.get(c);
          s.read(key.name, v, k.range);
          k.set(c, v);
        } else if constexpr (std::is_same_v<K, BoolKey>) {
          bool v = k.get(c);
          s.read(key.name, v);
          k.set(c, v);
        } else if constexpr (std::is_same_v<K, TextKey>) {
          std::string v = k.get(c);
          s.read(key.name, v);
          k.set(c, v);
        } else if constexpr (std::is_same_v<K, ChoiceKey>) {
          std::vector<std::pair<std::string, std::string>> names;
          for (const auto& n : k.names) names.emplace_back(n, n);
          k.set(c, read_enum<std::string>(s, key.name, k.get(c), names, src));
        } else if constexpr (std::is_same_v<K, ThresholdKey>) {
          k.set(c, read_threshold(s, key.name, k.get(c), src));
        } else if constexpr (std::is_same_v<K, BetasKey>) {
          read_betas(s, key, c, src);
        } else {
          read_router(s, key, k, c, src);
        }
      },
      key.type);
}

// A section's keys, then its nested sections, then no key left unknown.
void read_section(Section s, const ConfigSection& schema, Config& c, Source& src) {
  for (const ConfigKey& key : schema.keys) read_key(s, key, c, src);
  for (const ConfigSection& sub : schema.sections) read_section(s.child(sub.name), sub, c, src);
  s.finish(schema.renamed);
}

// A registered spec's rules between keys (null: none), the first broken one failing.
void check_rules(const std::function<std::optional<KeyProblem>(const Config&)>& rules, const Config& c,
                 const Source& src) {
  if (!rules) return;
  if (const std::optional<KeyProblem> p = rules(c)) src.fail(p->key, p->message, p->related);
}

// A refusal that --force turns into a warning saying what was overruled; `commands` names
// where --force exists when that is not obvious.
void refuse_unless_forced(const Source& src, const LoadOptions& options, const std::string& key,
                          const std::string& message, const std::string& commands,
                          const std::vector<std::string>& related = {}) {
  if (!options.force) src.fail(key, message + "; --force overrules this" + commands, related);
  (options.warnings ? *options.warnings : std::cerr)
      << "warning (--force): " << src.located_at(key) << ": " << key << ": " << message << "; going on as asked\n";
}

void validate(Config& c, const Source& src, const LoadOptions& options) {
  const ModelConfig& m = c.model;
  const DataConfig& d = c.data;
  OptimConfig& o = c.optim;
  // Only the spelling here: an embedded config written on a GPU machine must still parse on
  // one without (a checkpoint loads anywhere). Whether this machine has it is checked when
  // a config file is loaded to run.
  try {
    Device::parse(c.device);
  } catch (const ConfigError& e) {
    src.fail("device", e.message());
  }

  const ModelKindSpec& kind = find_model_kind(m.kind);  // known: model.kind was read as one of them
  if (kind.moe) {
    // The MoE options validate themselves, under the names the model section uses too.
    try {
      m.block().validate();
    } catch (const ConfigError& e) {
      // The keys each block rule compares against, for blaming a --set of those.
      static const std::map<std::string, std::vector<std::string>> related = {
          {"top_n", {"model.num_experts"}},
          {"threshold_train", {"model.top_n"}},
          {"threshold_eval", {"model.top_n"}},
          {"expert_hidden_mult", {"model.dim"}},
          {"dropless", {"model.dispatch", "model.routing"}},
          {"score_function", {"model.router"}},
          {"expert_bias", {"model.routing", "model.differentiable_topk"}},
          {"differentiable_topk", {"model.routing"}}};
      auto rel = related.find(e.key().substr(0, e.key().find('[')));
      src.fail("model." + e.key(), e.message(), rel == related.end() ? std::vector<std::string>{} : rel->second);
    }
    const moe::MoEOptions& mo = m.moe_block.moe;
    if (mo.routing == moe::RoutingMode::token_choice && mo.top_n == 1 && mo.renormalize_gates) {
      const std::string trap =
          "1 with model.renormalize_gates: true makes every gate identically 1, so the router gets no gradient from "
          "the main loss (jingyaogong/minimind#858); set model.renormalize_gates: false (Switch's top-1)";
      refuse_unless_forced(src, options, "model.top_n", trap, "", {"model.renormalize_gates"});
    }
  }
  check(c.parallel.expert == 1 || (kind.moe && m.moe_block.moe.num_experts % c.parallel.expert == 0), src,
        "parallel.expert",
        kind.moe ? "must divide model.num_experts=" + std::to_string(m.moe_block.moe.num_experts) + got(c.parallel.expert)
                 : "must be 1: model.kind " + m.kind + " has no experts" + got(c.parallel.expert),
        {"model.num_experts"});
  check(d.task == kind.task, src, "data.task",
        "model.kind " + m.kind + " needs task " + kind.task, {"model.kind"});
  check_rules(kind.validate, c, src);

  check(o.beta1 >= 0 && o.beta1 < 1, src, "optim.betas", "beta1 must be in [0, 1)" + got(o.beta1));
  check(o.beta2 >= 0 && o.beta2 < 1, src, "optim.betas", "beta2 must be in [0, 1)" + got(o.beta2));
  check_rules(find_optimizer(o.name).validate, c, src);
  check_rules(find_schedule(o.schedule.kind).validate, c, src);

  check_rules(find_task(d.task).validate, c, src);

  const MemoryEstimate need = estimate_memory(c);
  try {
    require_memory(need.total_bytes(), "this run (" + need.breakdown() + ")");
  } catch (const OutOfMemoryError& e) {
    refuse_unless_forced(src, options, need.dominating_key, e.what(), " (train, check-config, inspect)");
  }
}

}  // namespace

moe::ExpertOptions ModelConfig::dense_feedforward() const {
  return {.dim = dim, .hidden_mult = hidden_mult, .prenorm = true, .kind = moe_block.moe.expert_kind};
}

moe::SparseMoEBlockOptions ModelConfig::toy_block() {
  moe::SparseMoEBlockOptions b;
  b.moe.num_experts = 8;
  b.moe.expert_hidden_mult = 2.0;
  b.add_ff_after = false;
  return b;
}

moe::SparseMoEBlockOptions ModelConfig::block() const {
  moe::SparseMoEBlockOptions b = moe_block;
  b.moe.dim = dim;
  return b;
}

namespace {
// The 1-based line where a second YAML document starts, or 0. A document starts at a
// "---" line, and a "..." line ends one; a "---" before any content opens the first.
int second_document_line(const std::string& text) {
  std::istringstream in(text);
  bool content = false, ended = false;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    auto marker = [&](const char* m) {
      return line.rfind(m, 0) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    };
    const size_t first = line.find_first_not_of(" \t\r");
    const bool blank = first == std::string::npos || line[first] == '#';
    if (marker("---")) {
      if (content || ended) return n;
      content = line.find_first_not_of(" \t\r", 3) != std::string::npos && line[line.find_first_not_of(" \t\r", 3)] != '#';
    } else if (marker("...")) {
      ended = true;
    } else if (!blank && line[0] != '%') {
      if (ended) return n;
      content = true;
    }
  }
  return 0;
}
}  // namespace

namespace {
// Whether any line is more than blanks, a comment or a document marker.
bool holds_content(const std::string& text) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    if (line.rfind("---", 0) == 0 || line.rfind("...", 0) == 0) continue;
    if (line == "~" || line == "null") continue;
    return true;
  }
  return false;
}
}  // namespace

// The deepest chain of `extends:` a config may have; a loop is reported before it.
constexpr int kMaxExtends = 8;

// Records that every key under `node` (at `path`) came from `file`.
void attribute(const YAML::Node& node, const std::string& path, const std::string& file, Source& src) {
  if (!path.empty()) src.file_of[path] = file;
  if (!node.IsMap()) return;
  for (auto it = node.begin(); it != node.end(); ++it)
    if (it->first.IsScalar()) {
      const std::string k = it->first.as<std::string>();
      attribute(it->second, path.empty() ? k : path + "." + k, file, src);
    }
}

// `over`'s keys on top of `base`'s: mappings merge key by key, anything else replaces.
void merge_into(YAML::Node base, const YAML::Node& over) {
  for (auto it = over.begin(); it != over.end(); ++it) {
    const std::string k = it->first.as<std::string>();
    if (it->second.IsMap() && base[k].IsMap()) merge_into(base[k], it->second);
    else base[k] = it->second;
  }
}

YAML::Node parse_root(const std::string& text, const std::string& source);

// `extends: FILE`: FILE's config (itself perhaps extending another), with this one's keys
// on top. FILE is relative to the file that names it.
YAML::Node resolve_extends(YAML::Node root, const std::string& source, Source& src, std::vector<std::string> chain) {
  if (!root.IsMap() || !root["extends"].IsDefined()) {
    attribute(root, "", source, src);
    return root;
  }
  const YAML::Node named = root["extends"];
  const std::string at = source + ":" + std::to_string(named.Mark().line + 1);
  if (!named.IsScalar() || named.Scalar().empty()) throw ConfigFileError(at, "extends", "expected a config file name");
  std::string base = named.Scalar();
  if (base[0] != '/') {
    const size_t slash = source.find_last_of('/');
    if (slash != std::string::npos) base = source.substr(0, slash + 1) + base;
  }
  chain.push_back(source);
  if (std::find(chain.begin(), chain.end(), base) != chain.end())
    throw ConfigFileError(at, "extends", "'" + echo(base) + "' extends this file again (a loop)");
  if (static_cast<int>(chain.size()) > kMaxExtends)
    throw ConfigFileError(at, "extends", "more than " + std::to_string(kMaxExtends) + " configs deep");
  std::string text;
  try {
    text = read_file(base, kMaxConfigFileBytes);
  } catch (const Error& e) {
    throw ConfigFileError(at, "extends", e.what());
  }
  YAML::Node merged = resolve_extends(parse_root(text, base), base, src, chain);
  if (!merged.IsMap()) merged = YAML::Node(YAML::NodeType::Map);
  root.remove("extends");
  attribute(root, "", source, src);
  merge_into(merged, root);
  return merged;
}

// One file's text as a YAML mapping (null for an empty file), its syntax checked.
YAML::Node parse_root(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    // Not YAML::LoadAll: yaml-cpp 0.7's loop over documents never ends on some malformed
    // inputs (found by fuzz_config); the second document is found by its marker instead.
    if (int line = second_document_line(text); line > 0)
      throw ConfigFileError(source + ":" + std::to_string(line), "(syntax)",
                            "a second YAML document; a config is one document");
    root = YAML::Load(text);
    // yaml-cpp reads some malformed text (invalid UTF-8 among it) as an empty document,
    // which would silently train the defaults.
    if ((!root.IsDefined() || root.IsNull()) && holds_content(text))
      throw ConfigFileError(source, "(syntax)", "the text is not a YAML mapping (is it UTF-8 YAML?)");
  } catch (const YAML::Exception& e) {
    const std::string where = e.mark.line >= 0 ? source + ":" + std::to_string(e.mark.line + 1) : source;
    throw ConfigFileError(where, "(syntax)", e.msg);
  }
  check_duplicate_keys(root, "", source);
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  return root;
}

static Config parse_config_unguarded(const std::string& text, const std::string& source,
                                     const std::vector<std::string>& overrides, const LoadOptions& options) {
  Source src{source, {}, {}, {}};
  YAML::Node root = resolve_extends(parse_root(text, source), source, src, {});
  for (const std::string& o : overrides) apply_override(root, o, src);
  Config c;
  read_section(Section(root, "", src), config_schema(), c, src);
  validate(c, src, options);
  return c;
}

Config parse_config(const std::string& text, const std::string& source, const std::vector<std::string>& overrides,
                    const LoadOptions& options) {
  try {
    return parse_config_unguarded(text, source, overrides, options);
  } catch (const YAML::Exception& e) {
    // A shape of YAML the reader did not foresee still gets a located message, never a crash.
    const std::string where = e.mark.line >= 0 ? source + ":" + std::to_string(e.mark.line + 1) : source;
    throw ConfigFileError(where, "(yaml)", e.msg);
  }
}

namespace {
// Strips read_file's "PATH: " prefix: the location already names the file.
std::string without_path(const std::string& message, const std::string& path) {
  return message.rfind(path + ": ", 0) == 0 ? message.substr(path.size() + 2) : message;
}

// data.path names a regular file within the text limit, long enough for data.seq_len:
// checked when a config file is loaded (train, check-config), not when a checkpoint's
// embedded config is parsed, since sampling does not read the data.
void check_data_file(const Config& c, const std::string& config_path) {
  const DataConfig& d = c.data;
  if (d.task != "char_lm" || d.path.empty()) return;
  const std::string where = config_path + " (data.path '" + echo(d.path) + "')";
  struct stat st {};
  if (::stat(d.path.c_str(), &st) != 0)
    throw ConfigFileError(where, "data.path", "cannot be read: no such file or no permission");
  if (!S_ISREG(st.st_mode)) throw ConfigFileError(where, "data.path", "is not a regular file");
  if (st.st_size > kMaxTextFileBytes)
    throw ConfigFileError(where, "data.path", "is " + format_bytes(st.st_size) + ", larger than the limit of " +
                                                 format_bytes(kMaxTextFileBytes) + " for a text file");
  const int64_t need = min_text_chars(d.seq_len);
  if (st.st_size < need)
    throw ConfigFileError(where, "data.path", "holds " + std::to_string(st.st_size) + " characters, fewer than the " +
                                                 std::to_string(need) + " that data.seq_len=" + std::to_string(d.seq_len) +
                                                 " needs");
}

// The config's device exists here: checked when a config file is loaded to run, not when
// an embedded config is parsed (a checkpoint written on a GPU loads anywhere).
void check_device(const Config& c, const std::string& config_path, const std::vector<std::string>& overrides) {
  const std::string why = device_unavailable_reason(Device::parse(c.device));
  if (why.empty()) return;
  std::string where = config_path;
  for (const std::string& o : overrides)
    if (o.rfind("device=", 0) == 0) where = "--set device";
  throw ConfigFileError(where, "device", why);
}
}  // namespace

Config load_config(const std::string& path, const std::vector<std::string>& overrides, const LoadOptions& options) {
  std::string text;
  try {
    text = read_file(path, kMaxConfigFileBytes);
  } catch (const Error& e) {
    throw ConfigFileError(path, "(file)", without_path(e.what(), path));
  }
  Config c = parse_config(text, path, overrides, options);
  check_data_file(c, path);
  check_device(c, path, overrides);
  return c;
}


}  // namespace moegrad::train
