// YAML -> Config. Every key is read through a Section that knows the key's full path and
// its line, so each error names the file, the line, the key and what was expected.
#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "core/file_read.h"
#include "core/memory_budget.h"
#include "train/char_corpus.h"
#include "train/config.h"
#include "train/memory_estimate.h"

namespace moegrad::train {

namespace {

// A value echoed back in an error: a 50 MB scalar must not come back in full.
std::string shown(const std::string& value) {
  constexpr size_t kMax = 80;
  if (value.size() <= kMax) return value;
  return value.substr(0, kMax) + "... (" + std::to_string(value.size()) + " characters)";
}

// Where a key came from: a line of the file, or a --set override.
struct Source {
  std::string file;
  std::set<std::string> overridden;
  std::map<std::string, std::string> located;  // key path -> "file:line" as read

  std::string location(const std::string& key, const YAML::Mark& mark) const {
    for (const std::string& o : overridden)
      if (key == o || key.rfind(o + ".", 0) == 0 || o.rfind(key + ".", 0) == 0) return "--set " + o;
    if (mark.line >= 0) return file + ":" + std::to_string(mark.line + 1);
    return file;
  }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    auto it = located.find(key);
    // An element "a.b[2]" not located by itself is reported at its list.
    if (it == located.end() && key.back() == ']') it = located.find(key.substr(0, key.rfind('[')));
    throw ConfigFileError(it != located.end() ? it->second : file, key, message);
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

  template <typename T>
  void read(const std::string& key, T& target, const char* expected) {
    YAML::Node n = raw(key);
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsScalar()) src_.fail(key_path(key), std::string("expected ") + expected);
    try {
      if constexpr (std::is_same_v<T, bool>) {
        target = n.as<bool>();
      } else if constexpr (std::is_integral_v<T>) {
        // yaml-cpp reads "1.5" as 1 through a stream; insist on an integer literal.
        const std::string s = n.Scalar();
        size_t used = 0;
        long long v = std::stoll(s, &used);
        if (used != s.size()) throw std::invalid_argument(s);
        target = static_cast<T>(v);
      } else {
        target = n.as<T>();
      }
    } catch (const std::exception&) {
      src_.fail(key_path(key), std::string("expected ") + expected + ", got '" + shown(n.Scalar()) + "'");
    }
    if constexpr (std::is_floating_point_v<T>) {
      // .inf and .nan parse as numbers; no key of the schema means anything by them.
      if (!std::isfinite(target))
        src_.fail(key_path(key), std::string("expected a finite number, got '") + shown(n.Scalar()) + "'");
    }
  }
  void read(const std::string& key, int64_t& t) { read<int64_t>(key, t, "an integer"); }
  void read(const std::string& key, double& t) { read<double>(key, t, "a number"); }
  void read(const std::string& key, bool& t) { read<bool>(key, t, "true or false"); }
  void read(const std::string& key, std::string& t) { read<std::string>(key, t, "a string"); }

  Section child(const std::string& key) { return Section(raw(key), key_path(key), src_); }

  void finish() const {
    if (!node_.IsMap()) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (!it->first.IsScalar())
        throw ConfigFileError(src_.location(path_, it->first.Mark()), path_.empty() ? "(top level)" : path_,
                              "keys must be plain names, got a " +
                                  std::string(it->first.IsMap() ? "mapping" : "list") + " as a key");
      const std::string k = it->first.as<std::string>();
      if (!seen_.count(k))
        throw ConfigFileError(src_.location(key_path(k), it->first.Mark()), key_path(k), "unknown key");
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
  src.fail(s.key_path(key), "must be one of " + choices + ", got '" + shown(v) + "'");
}

// A number, or a list of numbers whose elements are each located at their own line.
std::vector<double> read_numbers(Section& s, const std::string& key, YAML::Node n, Source& src, const char* expected) {
  std::vector<double> out;
  std::vector<YAML::Node> items;
  if (n.IsSequence())
    for (size_t i = 0; i < n.size(); ++i) items.push_back(n[i]);
  else
    items.push_back(n);
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string k = n.IsSequence() ? s.key_path(key) + "[" + std::to_string(i) + "]" : s.key_path(key);
    src.located[k] = src.location(s.key_path(key), items[i].Mark());
    double v = 0;
    try {
      if (!items[i].IsScalar()) throw std::invalid_argument("not a scalar");
      v = items[i].as<double>();
    } catch (const std::exception&) {
      src.fail(k, std::string("expected ") + expected);
    }
    if (!std::isfinite(v)) src.fail(k, "expected a finite number, got '" + shown(items[i].Scalar()) + "'");
    out.push_back(v);
  }
  return out;
}

moe::Threshold read_threshold(Section& s, const std::string& key, moe::Threshold current, Source& src) {
  YAML::Node n = s.raw(key);
  if (!n.IsDefined() || n.IsNull()) return current;
  std::vector<double> v = read_numbers(s, key, n, src, "a number or a list of numbers");
  if (n.IsSequence()) return v;
  return v[0];
}

// yaml-cpp keeps both entries of a repeated key and finds the first: a second `optim:`
// section would be silently ignored.
void reject_duplicate_keys(const YAML::Node& node, const std::string& path, const std::string& file) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i)
      reject_duplicate_keys(node[i], path + "[" + std::to_string(i) + "]", file);
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, int> first_line;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) continue;  // reported by Section::finish
    const std::string key = it->first.Scalar();
    const std::string key_path = path.empty() ? key : path + "." + key;
    const int line = it->first.Mark().line + 1;
    auto [seen, fresh] = first_line.emplace(key, line);
    if (!fresh)
      throw ConfigFileError(file + ":" + std::to_string(line), shown(key_path),
                            "is given twice (first at line " + std::to_string(seen->second) + ")");
    reject_duplicate_keys(it->second, key_path, file);
  }
}

void apply_override(YAML::Node& root, const std::string& assignment, Source& src) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigFileError("--set " + assignment, assignment, "expected key.path=value");
  const std::string key = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
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
      throw ConfigFileError("--set " + key, key, "'" + parts[i] + "' is not a section");
    set(node[parts[i]], i + 1);
  };
  set(root, 0);
  src.overridden.insert(key);
}

void check(bool ok, const Source& src, const std::string& key, const std::string& message) {
  if (!ok) src.fail(key, message);
}

// Integer keys have ranges that fit the machine: beyond them no run could be allocated, and
// products of them would overflow int64 before any memory check could see them.
void check_range(const Source& src, const std::string& key, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    src.fail(key, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(v));
}
constexpr int64_t kMaxWidth = int64_t{1} << 24;  // widths, dims, context, sequence lengths
constexpr int64_t kMaxCount = int64_t{1} << 40;  // steps, intervals, samples, characters

template <typename T>
std::string got(const T& v) {
  std::ostringstream os;
  os << ", got " << v;
  return os.str();
}

void read_model(Section s, ModelConfig& m, Source& src) {
  m.kind = read_enum<ModelKind>(s, "kind", m.kind,
                                {{"mlp_moe", ModelKind::mlp_moe}, {"mlp_dense", ModelKind::mlp_dense},
                                 {"moe_lm", ModelKind::moe_lm}},
                                src);
  s.read("dim", m.dim);
  s.read("depth", m.depth);
  s.read("hidden_mult", m.hidden_mult);
  s.read("num_experts", m.num_experts);
  s.read("expert_hidden_mult", m.expert_hidden_mult);
  s.read("top_n", m.top_n);
  m.threshold_train = read_threshold(s, "threshold_train", m.threshold_train, src);
  m.threshold_eval = read_threshold(s, "threshold_eval", m.threshold_eval, src);
  s.read("capacity_factor_train", m.capacity_factor_train);
  s.read("capacity_factor_eval", m.capacity_factor_eval);
  s.read("straight_through_dispatch_tensor", m.straight_through_dispatch_tensor);
  s.read("differentiable_topk", m.differentiable_topk);
  s.read("noise_gates", m.noise_gates);
  s.read("noise_mult", m.noise_mult);
  s.read("balance_loss_coef", m.balance_loss_coef);
  s.read("router_z_loss_coef", m.router_z_loss_coef);
  s.read("add_ff_before", m.add_ff_before);
  s.read("add_ff_after", m.add_ff_after);
  m.dispatch = read_enum<moe::Dispatch>(s, "dispatch", m.dispatch,
                                        {{"indexed", moe::Dispatch::indexed}, {"dense", moe::Dispatch::dense}}, src);
  s.read("heads", m.heads);
  s.read("context", m.context);
  if (s.present("router")) {
    Section r = s.child("router");
    moe::MoERouterOptions ro;
    YAML::Node h = r.raw("hidden_layers");
    if (h.IsDefined() && !h.IsNull()) {
      try {
        if (h.IsSequence()) ro.hidden_layers = h.as<std::vector<int64_t>>();
        else ro.hidden_layers = h.as<int64_t>();
      } catch (const std::exception&) {
        src.fail(r.key_path("hidden_layers"), "expected null, an integer or a list of integers");
      }
    }
    ro.mechanism = read_enum<moe::RouterMechanism>(
        r, "mechanism", moe::RouterMechanism::softmax,
        {{"softmax", moe::RouterMechanism::softmax}, {"gumbel", moe::RouterMechanism::gumbel}}, src);
    r.finish();
    m.router = ro;
  } else {
    s.raw("router");
  }
  s.finish();
}

void read_data(Section s, DataConfig& d, Source& src) {
  d.task = read_enum<TaskKind>(s, "task", d.task, {{"clusters", TaskKind::clusters}, {"char_lm", TaskKind::char_lm}},
                               src);
  s.read("num_clusters", d.num_clusters);
  s.read("input_dim", d.input_dim);
  s.read("output_dim", d.output_dim);
  s.read("cluster_std", d.cluster_std);
  s.read("train_size", d.train_size);
  s.read("eval_size", d.eval_size);
  s.read("path", d.path);
  s.read("corpus_chars", d.corpus_chars);
  s.read("seq_len", d.seq_len);
  s.finish();
}

void read_optim(Section s, OptimConfig& o, Source& src) {
  o.name = read_enum<OptimizerKind>(
      s, "name", o.name, {{"sgd", OptimizerKind::sgd}, {"adam", OptimizerKind::adam}, {"adamw", OptimizerKind::adamw}},
      src);
  s.read("lr", o.lr);
  YAML::Node betas = s.raw("betas");
  if (betas.IsDefined() && !betas.IsNull()) {
    check(betas.IsSequence() && betas.size() == 2, src, s.key_path("betas"),
          "expected a list of two numbers [beta1, beta2]");
    std::vector<double> b = read_numbers(s, "betas", betas, src, "a list of two numbers [beta1, beta2]");
    o.beta1 = b[0];
    o.beta2 = b[1];
  }
  s.read("eps", o.eps);
  s.read("weight_decay", o.weight_decay);
  s.read("momentum", o.momentum);
  s.read("nesterov", o.nesterov);
  s.read("clip_norm", o.clip_norm);
  Section sched = s.child("schedule");
  o.schedule.kind = read_enum<nn::LrScheduleKind>(sched, "kind", o.schedule.kind,
                                                  {{"constant", nn::LrScheduleKind::constant},
                                                   {"warmup_cosine", nn::LrScheduleKind::warmup_cosine},
                                                   {"step", nn::LrScheduleKind::step}},
                                                  src);
  sched.read("warmup_steps", o.schedule.warmup_steps);
  sched.read("min_lr", o.schedule.min_lr);
  sched.read("step_size", o.schedule.step_size);
  sched.read("gamma", o.schedule.gamma);
  sched.finish();
  s.finish();
}

void read_loop(Section s, LoopConfig& t) {
  s.read("steps", t.steps);
  s.read("batch_size", t.batch_size);
  s.read("eval_interval", t.eval_interval);
  s.read("eval_batches", t.eval_batches);
  s.read("log_interval", t.log_interval);
  s.read("checkpoint_interval", t.checkpoint_interval);
  s.read("keep_last", t.keep_last);
  s.finish();
}

// data.path is checked at load, so that check-config and every command see a bad file as
// a config error: it must be a readable regular file within the text limit, long enough
// for both splits.
void check_text_file(const DataConfig& d, const Source& src) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(d.path, ec);
  if (ec || !fs::exists(st)) src.fail("data.path", "'" + shown(d.path) + "' does not exist");
  if (!fs::is_regular_file(st)) src.fail("data.path", "'" + shown(d.path) + "' is not a regular file");
  const auto size = static_cast<int64_t>(fs::file_size(d.path, ec));
  if (ec || ::access(d.path.c_str(), R_OK) != 0) src.fail("data.path", "'" + shown(d.path) + "' cannot be read");
  if (size == 0) src.fail("data.path", "'" + shown(d.path) + "' is empty");
  if (size > kMaxTextFileBytes)
    src.fail("data.path", "'" + shown(d.path) + "' is " + format_bytes(size) + ", larger than the limit of " +
                              format_bytes(kMaxTextFileBytes) + " for a text corpus");
  if (std::string why = text_length_problem(size, d.seq_len); !why.empty())
    src.fail("data.path", "'" + shown(d.path) + "': " + why);
}

void validate(Config& c, const Source& src) {
  const ModelConfig& m = c.model;
  const DataConfig& d = c.data;
  OptimConfig& o = c.optim;
  const LoopConfig& t = c.train;
  check(c.device == "cpu", src, "device", "must be cpu (no GPU backend is built yet), got '" + shown(c.device) + "'");

  // The train section first: other keys' ranges derive from train.steps.
  check_range(src, "train.steps", t.steps, 1, kMaxCount);
  check_range(src, "train.batch_size", t.batch_size, 1, kMaxWidth);
  check_range(src, "train.eval_interval", t.eval_interval, 1, kMaxCount);
  check_range(src, "train.eval_batches", t.eval_batches, 1, kMaxWidth);
  check_range(src, "train.log_interval", t.log_interval, 1, kMaxCount);
  check_range(src, "train.checkpoint_interval", t.checkpoint_interval, 1, kMaxCount);
  check_range(src, "train.keep_last", t.keep_last, 1, 1 << 20);

  check_range(src, "model.dim", m.dim, 1, kMaxWidth);
  check_range(src, "model.depth", m.depth, 1, 1 << 16);
  check(m.hidden_mult > 0 && m.hidden_mult <= 1024, src, "model.hidden_mult", "must be in (0, 1024]" + got(m.hidden_mult));
  check(m.expert_hidden_mult > 0 && m.expert_hidden_mult <= 1024, src, "model.expert_hidden_mult",
        "must be in (0, 1024]" + got(m.expert_hidden_mult));
  check_range(src, "model.num_experts", m.num_experts, 1, 1 << 16);
  check(m.noise_mult >= 0, src, "model.noise_mult", "must be >= 0" + got(m.noise_mult));
  check(m.balance_loss_coef >= 0, src, "model.balance_loss_coef", "must be >= 0" + got(m.balance_loss_coef));
  check(m.router_z_loss_coef >= 0, src, "model.router_z_loss_coef", "must be >= 0" + got(m.router_z_loss_coef));
  if (m.router && std::holds_alternative<std::vector<int64_t>>(m.router->hidden_layers)) {
    const auto& widths = std::get<std::vector<int64_t>>(m.router->hidden_layers);
    check(widths.size() <= 64, src, "model.router.hidden_layers", "must list at most 64 layers" + got(widths.size()));
    for (size_t i = 0; i < widths.size(); ++i)
      check_range(src, "model.router.hidden_layers[" + std::to_string(i) + "]", widths[i], 1, kMaxWidth);
  } else if (m.router && std::holds_alternative<int64_t>(m.router->hidden_layers)) {
    check_range(src, "model.router.hidden_layers", std::get<int64_t>(m.router->hidden_layers), 0, 64);
  }
  if (m.kind != ModelKind::mlp_dense) {
    // The MoE options validate themselves; their keys are renamed into this schema.
    try {
      moe::SparseMoEBlockOptions b = m.block();
      b.validate();
    } catch (const ConfigError& e) {
      static const std::map<std::string, std::string> rename = {{"gating_top_n", "top_n"},
                                                                {"hidden_mult", "expert_hidden_mult"}};
      auto it = rename.find(e.key());
      src.fail("model." + (it == rename.end() ? e.key() : it->second), e.message());
    }
  }
  if (m.kind == ModelKind::moe_lm) {
    check(m.heads >= 1 && m.dim % m.heads == 0, src, "model.heads",
          "must divide model.dim=" + std::to_string(m.dim) + got(m.heads));
    check_range(src, "model.context", m.context, 1, kMaxWidth);
    check(d.task == TaskKind::char_lm, src, "data.task", "model.kind moe_lm needs task char_lm");
    check(d.seq_len <= m.context, src, "data.seq_len",
          "must not exceed model.context=" + std::to_string(m.context) + got(d.seq_len));
  } else {
    check(d.task == TaskKind::clusters, src, "data.task",
          std::string("model.kind ") + model_kind_name(m.kind) + " needs task clusters");
  }

  check_range(src, "data.num_clusters", d.num_clusters, 1, kMaxWidth);
  check_range(src, "data.input_dim", d.input_dim, 1, kMaxWidth);
  check_range(src, "data.output_dim", d.output_dim, 1, kMaxWidth);
  check(d.cluster_std > 0, src, "data.cluster_std", "must be positive" + got(d.cluster_std));
  check_range(src, "data.train_size", d.train_size, 1, kMaxCount);
  check_range(src, "data.eval_size", d.eval_size, 1, kMaxCount);
  check_range(src, "data.corpus_chars", d.corpus_chars, 1000, kMaxCount);
  check_range(src, "data.seq_len", d.seq_len, 1, kMaxWidth);
  if (d.task == TaskKind::char_lm && !d.path.empty()) check_text_file(d, src);

  check(o.lr > 0, src, "optim.lr", "must be positive" + got(o.lr));
  check(o.beta1 >= 0 && o.beta1 < 1, src, "optim.betas", "beta1 must be in [0, 1)" + got(o.beta1));
  check(o.beta2 >= 0 && o.beta2 < 1, src, "optim.betas", "beta2 must be in [0, 1)" + got(o.beta2));
  check(o.eps >= 0, src, "optim.eps", "must be >= 0" + got(o.eps));
  check(o.weight_decay >= 0, src, "optim.weight_decay", "must be >= 0" + got(o.weight_decay));
  check(o.momentum >= 0, src, "optim.momentum", "must be >= 0" + got(o.momentum));
  check(!o.nesterov || o.momentum > 0, src, "optim.nesterov", "needs optim.momentum > 0");
  check(o.clip_norm >= 0, src, "optim.clip_norm", "must be >= 0 (0 turns clipping off)" + got(o.clip_norm));
  o.schedule.base_lr = o.lr;
  o.schedule.total_steps = t.steps;
  check(o.schedule.warmup_steps >= 0 && o.schedule.warmup_steps < t.steps, src, "optim.schedule.warmup_steps",
        "must be in [0, train.steps=" + std::to_string(t.steps) + ")" + got(o.schedule.warmup_steps));
  check(o.schedule.min_lr >= 0 && o.schedule.min_lr <= o.lr, src, "optim.schedule.min_lr",
        "must be in [0, optim.lr]" + got(o.schedule.min_lr));
  check_range(src, "optim.schedule.step_size", o.schedule.step_size, 1, kMaxCount);
  check(o.schedule.gamma > 0, src, "optim.schedule.gamma", "must be positive" + got(o.schedule.gamma));

  if (d.task == TaskKind::clusters)
    check(t.batch_size <= d.train_size, src, "train.batch_size",
          "must not exceed data.train_size=" + std::to_string(d.train_size) + got(t.batch_size));

  // Last, once every size is in range: a run that cannot fit is refused before it allocates.
  const MemoryEstimate need = estimate_memory(c);
  try {
    require_memory(need.total_bytes(), "this run (" + need.describe() + ")");
  } catch (const OutOfMemoryError& e) {
    src.fail(need.dominant_key(), e.what());
  }
}

}  // namespace

moe::SparseMoEBlockOptions ModelConfig::block() const {
  moe::SparseMoEBlockOptions b;
  b.moe.dim = dim;
  b.moe.num_experts = num_experts;
  b.moe.expert_hidden_mult = expert_hidden_mult;
  b.moe.threshold_train = threshold_train;
  b.moe.threshold_eval = threshold_eval;
  b.moe.capacity_factor_train = capacity_factor_train;
  b.moe.capacity_factor_eval = capacity_factor_eval;
  b.moe.gating_top_n = top_n;
  b.moe.balance_loss_coef = balance_loss_coef;
  b.moe.router_z_loss_coef = router_z_loss_coef;
  b.moe.straight_through_dispatch_tensor = straight_through_dispatch_tensor;
  b.moe.differentiable_topk = differentiable_topk;
  b.moe.router = router;
  b.moe.dispatch = dispatch;
  b.add_ff_before = add_ff_before;
  b.add_ff_after = add_ff_after;
  return b;
}

static Config parse_config_unguarded(const std::string& text, const std::string& source,
                              const std::vector<std::string>& overrides) {
  Source src{source, {}, {}};
  YAML::Node root;
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(text);
    if (docs.size() > 1) {
      const int line = docs[1].Mark().line;
      throw ConfigFileError(line >= 0 ? source + ":" + std::to_string(line + 1) : source, "(file)",
                            "a second YAML document (after '---') would be ignored; a config is one document");
    }
    if (!docs.empty()) root = docs[0];
  } catch (const YAML::Exception& e) {
    const std::string where = e.mark.line >= 0 ? source + ":" + std::to_string(e.mark.line + 1) : source;
    throw ConfigFileError(where, "(syntax)", e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  reject_duplicate_keys(root, "", source);
  for (const std::string& o : overrides) apply_override(root, o, src);
  Config c;
  Section top(root, "", src);
  int64_t seed = 0;
  top.read("seed", seed);
  check(seed >= 0, src, "seed", "must be >= 0" + got(seed));
  c.seed = static_cast<uint64_t>(seed);
  top.read("device", c.device);
  read_model(top.child("model"), c.model, src);
  read_data(top.child("data"), c.data, src);
  read_optim(top.child("optim"), c.optim, src);
  read_loop(top.child("train"), c.train);
  top.finish();
  validate(c, src);
  return c;
}

Config parse_config(const std::string& text, const std::string& source, const std::vector<std::string>& overrides) {
  try {
    return parse_config_unguarded(text, source, overrides);
  } catch (const YAML::Exception& e) {
    // A shape of YAML the reader did not foresee still gets a located message, never a crash.
    const std::string where = e.mark.line >= 0 ? source + ":" + std::to_string(e.mark.line + 1) : source;
    throw ConfigFileError(where, "(yaml)", e.msg);
  }
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::string text;
  try {
    text = read_file(path, kMaxConfigFileBytes);
  } catch (const Error& e) {
    // read_file's message starts with the path, which ConfigFileError puts first anyway.
    std::string why = e.what();
    if (why.rfind(path + ": ", 0) == 0) why = why.substr(path.size() + 2);
    throw ConfigFileError(path, "(file)", why);
  }
  return parse_config(text, path, overrides);
}

const char* model_kind_name(ModelKind k) {
  switch (k) {
    case ModelKind::mlp_moe: return "mlp_moe";
    case ModelKind::mlp_dense: return "mlp_dense";
    case ModelKind::moe_lm: return "moe_lm";
  }
  return "?";
}
const char* task_kind_name(TaskKind k) { return k == TaskKind::clusters ? "clusters" : "char_lm"; }
const char* optimizer_name(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::sgd: return "sgd";
    case OptimizerKind::adam: return "adam";
    case OptimizerKind::adamw: return "adamw";
  }
  return "?";
}

}  // namespace moegrad::train
