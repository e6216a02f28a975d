// YAML -> Config. Every key is read through a Section that knows the key's full path and
// its line, so each error names the file, the line, the key and what was expected.
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <functional>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "train/config.h"

namespace moegrad::train {

namespace {

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
      src_.fail(key_path(key), std::string("expected ") + expected + ", got '" + n.Scalar() + "'");
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
  src.fail(s.key_path(key), "must be one of " + choices + ", got '" + v + "'");
}

moe::Threshold read_threshold(Section& s, const std::string& key, moe::Threshold current, Source& src) {
  YAML::Node n = s.raw(key);
  if (!n.IsDefined() || n.IsNull()) return current;
  try {
    if (n.IsSequence()) return n.as<std::vector<double>>();
    return n.as<double>();
  } catch (const std::exception&) {
    src.fail(s.key_path(key), "expected a number or a list of numbers");
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
    std::vector<double> b;
    try {
      b = betas.as<std::vector<double>>();
    } catch (const std::exception&) {
    }
    check(b.size() == 2, src, s.key_path("betas"), "expected a list of two numbers [beta1, beta2]");
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

void validate(Config& c, const Source& src) {
  const ModelConfig& m = c.model;
  const DataConfig& d = c.data;
  OptimConfig& o = c.optim;
  const LoopConfig& t = c.train;
  check(c.device == "cpu", src, "device", "must be cpu (no GPU backend is built yet), got '" + c.device + "'");

  check(m.dim >= 1, src, "model.dim", "must be >= 1" + got(m.dim));
  check(m.depth >= 1, src, "model.depth", "must be >= 1" + got(m.depth));
  check(m.hidden_mult > 0, src, "model.hidden_mult", "must be positive" + got(m.hidden_mult));
  check(m.noise_mult >= 0, src, "model.noise_mult", "must be >= 0" + got(m.noise_mult));
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
    check(m.context >= 1, src, "model.context", "must be >= 1" + got(m.context));
    check(d.task == TaskKind::char_lm, src, "data.task", "model.kind moe_lm needs task char_lm");
    check(d.seq_len <= m.context, src, "data.seq_len",
          "must not exceed model.context=" + std::to_string(m.context) + got(d.seq_len));
  } else {
    check(d.task == TaskKind::clusters, src, "data.task",
          std::string("model.kind ") + model_kind_name(m.kind) + " needs task clusters");
  }

  check(d.num_clusters >= 1, src, "data.num_clusters", "must be >= 1" + got(d.num_clusters));
  check(d.input_dim >= 1, src, "data.input_dim", "must be >= 1" + got(d.input_dim));
  check(d.output_dim >= 1, src, "data.output_dim", "must be >= 1" + got(d.output_dim));
  check(d.cluster_std > 0, src, "data.cluster_std", "must be positive" + got(d.cluster_std));
  check(d.train_size >= 1, src, "data.train_size", "must be >= 1" + got(d.train_size));
  check(d.eval_size >= 1, src, "data.eval_size", "must be >= 1" + got(d.eval_size));
  check(d.corpus_chars >= 1000, src, "data.corpus_chars", "must be >= 1000" + got(d.corpus_chars));
  check(d.seq_len >= 1, src, "data.seq_len", "must be >= 1" + got(d.seq_len));

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
  check(o.schedule.warmup_steps >= 0 && o.schedule.warmup_steps < std::max<int64_t>(t.steps, 1), src,
        "optim.schedule.warmup_steps",
        "must be in [0, train.steps=" + std::to_string(t.steps) + ")" + got(o.schedule.warmup_steps));
  check(o.schedule.min_lr >= 0 && o.schedule.min_lr <= o.lr, src, "optim.schedule.min_lr",
        "must be in [0, optim.lr]" + got(o.schedule.min_lr));
  check(o.schedule.step_size >= 1, src, "optim.schedule.step_size", "must be >= 1" + got(o.schedule.step_size));
  check(o.schedule.gamma > 0, src, "optim.schedule.gamma", "must be positive" + got(o.schedule.gamma));

  check(t.steps >= 1, src, "train.steps", "must be >= 1" + got(t.steps));
  check(t.batch_size >= 1, src, "train.batch_size", "must be >= 1" + got(t.batch_size));
  check(t.eval_interval >= 1, src, "train.eval_interval", "must be >= 1" + got(t.eval_interval));
  check(t.eval_batches >= 1, src, "train.eval_batches", "must be >= 1" + got(t.eval_batches));
  check(t.log_interval >= 1, src, "train.log_interval", "must be >= 1" + got(t.log_interval));
  check(t.checkpoint_interval >= 1, src, "train.checkpoint_interval", "must be >= 1" + got(t.checkpoint_interval));
  check(t.keep_last >= 1, src, "train.keep_last", "must be >= 1" + got(t.keep_last));
  if (d.task == TaskKind::clusters)
    check(t.batch_size <= d.train_size, src, "train.batch_size",
          "must not exceed data.train_size=" + std::to_string(d.train_size) + got(t.batch_size));
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
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    const std::string where = e.mark.line >= 0 ? source + ":" + std::to_string(e.mark.line + 1) : source;
    throw ConfigFileError(where, "(syntax)", e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
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
  std::ifstream in(path);
  if (!in) throw ConfigFileError(path, "(file)", "cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path, overrides);
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
