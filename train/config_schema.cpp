#include "moegrad/train/config_schema.h"

#include <map>
#include <set>
#include <sstream>

#include "moegrad/core/file_read.h"
#include "moegrad/moe/expert_kind.h"
#include "moegrad/train/model_kind.h"
#include "moegrad/train/optimizer_kind.h"
#include "moegrad/train/schedule_kind.h"
#include "moegrad/train/task_kind.h"

namespace moegrad::train {

namespace {

// The machine-sized ranges of the keys. Sizes stay far below 2^63 in any product the run
// computes; the memory estimate (train/memory_estimate.h) then refuses what would not fit
// this machine.
constexpr int64_t kMaxWidth = int64_t{1} << 16;    // dim, input/output dims, heads
constexpr int64_t kMaxDepth = 1024;                  // residual blocks
constexpr int64_t kMaxExperts = 4096;                // experts per layer, clusters
constexpr int64_t kMaxContext = int64_t{1} << 16;   // model.context, data.seq_len
constexpr int64_t kMaxSamples = int64_t{1} << 31;   // data.train_size, eval_size
constexpr int64_t kMaxSteps = int64_t{1} << 40;     // steps and intervals
constexpr int64_t kMaxBatch = int64_t{1} << 20;     // train.batch_size, eval_batches
constexpr RealRange kMult{0, true, 64};              // hidden_mult, expert_hidden_mult
constexpr RealRange kCapacityFactor{0, true, 1e6};
constexpr RealRange kCoef{0, false, 1e6};             // loss coefficients, noise_mult
constexpr RealRange kPositive{0, true, kAnyFinite};
constexpr RealRange kNonNegative{0, false, kAnyFinite};
constexpr RealRange kUnit{0, false, 1};

// Shorthands for declaring a key on a Config member.
#define MOEGRAD_AT(member) [](Config& c) -> auto& { return c.member; }

template <typename At>
IntKey int_key(IntRange range, At at) {
  return {range, [at](const Config& c) { return at(const_cast<Config&>(c)); },
          [at](Config& c, int64_t v) { at(c) = v; }};
}
template <typename At>
RealKey real_key(RealRange range, At at) {
  return {range, [at](const Config& c) { return at(const_cast<Config&>(c)); },
          [at](Config& c, double v) { at(c) = v; }};
}
template <typename At>
BoolKey bool_key(At at) {
  return {[at](const Config& c) { return at(const_cast<Config&>(c)); }, [at](Config& c, bool v) { at(c) = v; }};
}
template <typename At>
TextKey text_key(At at, bool null_is_empty = false, std::function<std::string()> values = nullptr) {
  return {null_is_empty, [at](const Config& c) { return at(const_cast<Config&>(c)); },
          [at](Config& c, const std::string& v) { at(c) = v; }, std::move(values)};
}
bool is_moe(const Config& c) { return find_model_kind(c.model.kind).moe; }
bool is_dense(const Config& c) { return c.model.kind == "mlp_dense"; }
bool is_lm(const Config& c) { return c.model.kind == "moe_lm"; }
bool clusters(const Config& c) { return c.data.task == "clusters"; }
bool char_lm(const Config& c) { return c.data.task == "char_lm"; }
bool adam(const Config& c) { return c.optim.name == "adam" || c.optim.name == "adamw"; }
bool sgd(const Config& c) { return c.optim.name == "sgd"; }
bool cosine(const Config& c) { return c.optim.schedule.kind == "warmup_cosine"; }
bool stepped(const Config& c) { return c.optim.schedule.kind == "step"; }

// "`mlp_moe`: ...; `mlp_dense`: ...": each registered kind with its line of doc.
std::string model_kinds_doc() {
  std::string s;
  for (const std::string& name : model_kind_names())
    s += (s.empty() ? "" : "; ") + ("`" + name + "`: " + find_model_kind(name).doc);
  return s;
}

std::string optimizers_doc() {
  std::string s;
  for (const std::string& name : optimizer_names())
    s += (s.empty() ? "" : "; ") + ("`" + name + "`: " + find_optimizer(name).doc);
  return s;
}

std::string schedules_doc() {
  std::string s;
  for (const std::string& name : schedule_names())
    s += (s.empty() ? "" : "; ") + ("`" + name + "`: " + find_schedule(name).doc);
  return s;
}

std::string tasks_doc() {
  std::string s;
  for (const std::string& name : task_names()) s += (s.empty() ? "" : "; ") + ("`" + name + "`: " + find_task(name).doc);
  return s;
}

// The trainer's caps on the module fields' ranges: machine-sized, as above.
const std::map<std::string, std::variant<IntRange, RealRange>>& block_caps() {
  static const std::map<std::string, std::variant<IntRange, RealRange>> caps{
      {"num_experts", IntRange{1, kMaxExperts}},       {"top_n", IntRange{1, kMaxExperts}},
      {"expert_hidden_mult", kMult},                   {"capacity_factor_train", kCapacityFactor},
      {"capacity_factor_eval", kCapacityFactor},       {"balance_loss_coef", kCoef},
      {"router_z_loss_coef", kCoef},                   {"num_shared_experts", IntRange{0, kMaxExperts}},
  };
  return caps;
}

// Block keys that mean something only under some routing choices (the writer leaves the
// others out); every other block key applies to every MoE model.
const std::map<std::string, std::function<bool(const Config&)>>& block_key_applies() {
  auto moe = [](const Config& c) -> const moe::MoEOptions& { return c.model.moe_block.moe; };
  auto token_choice = [moe](const Config& c) {
    return is_moe(c) && moe(c).routing == moe::RoutingMode::token_choice;
  };
  static const std::map<std::string, std::function<bool(const Config&)>> applies{
      {"top_n", token_choice},
      {"threshold_train", token_choice},
      {"threshold_eval", token_choice},
      {"differentiable_topk", token_choice},
      {"renormalize_gates", token_choice},
      {"balance_loss", token_choice},
      {"balance_loss_coef", token_choice},
      {"dropless", token_choice},
      {"expert_bias", token_choice},
      {"expert_bias_update_rate", [moe](const Config& c) { return is_moe(c) && moe(c).expert_bias; }},
      {"capacity_factor_train", [moe](const Config& c) { return is_moe(c) && !moe(c).dropless; }},
      {"capacity_factor_eval", [moe](const Config& c) { return is_moe(c) && !moe(c).dropless; }},
  };
  return applies;
}

// A field of the model's SparseMoEBlockOptions as a model key.
ConfigKey block_key(const OptionField<moe::SparseMoEBlockOptions>& f) {
  using S = moe::SparseMoEBlockOptions;
  auto at = [](const Config& c) -> const S& { return c.model.moe_block; };
  auto at_mut = [](Config& c) -> S& { return c.model.moe_block; };
  const auto cap = block_caps().find(f.name);
  ConfigKey k{f.name, f.doc, BoolKey{}, is_moe};
  std::visit(
      [&](const auto& t) {
        using T = std::decay_t<decltype(t)>;
        auto get = [get = t.get, at](const Config& c) { return get(at(c)); };
        auto set = [set = t.set, at_mut](Config& c, const auto& v) { set(at_mut(c), v); };
        if constexpr (std::is_same_v<T, IntField<S>>) {
          k.type = IntKey{cap == block_caps().end() ? t.range : std::get<IntRange>(cap->second), get, set};
        } else if constexpr (std::is_same_v<T, RealField<S>>) {
          k.type = RealKey{cap == block_caps().end() ? t.range : std::get<RealRange>(cap->second), get, set};
        } else if constexpr (std::is_same_v<T, BoolField<S>>) {
          k.type = BoolKey{get, set};
        } else if constexpr (std::is_same_v<T, TextField<S>>) {
          k.type = TextKey{false, get, set, t.values};
        } else if constexpr (std::is_same_v<T, ChoiceField<S>>) {
          k.type = ChoiceKey{t.names, get, set};
        } else {
          k.type = ThresholdKey{get, set};
        }
      },
      f.type);
  return k;
}

// The MoE block's fields (moe/option_fields.cpp) as model keys, under the same names; the
// reference's names for them are errors naming ours.
void add_block_keys(ConfigSection& model) {
  // dim is model.dim; the fused kernel choice changes nothing here.
  const std::set<std::string> not_keys{"dim", "differentiable_topk_fused"};
  for (const auto& f : moe::SparseMoEBlockOptions::fields()) {
    if (not_keys.count(f.name)) continue;
    ConfigKey k = block_key(f);
    if (f.name == "expert_kind") k.applies = nullptr;  // the dense model's feedforwards too
    if (auto only = block_key_applies().find(f.name); only != block_key_applies().end()) k.applies = only->second;
    model.keys.push_back(k);
    if (!f.reference_name.empty()) model.renamed.emplace_back(f.reference_name, f.name);
  }
}

ConfigSection make_schema() {
  ConfigSection top{"", "Top level", {}, {}, {}};
  top.keys = {
      {"seed", "every random draw (init, data, batches, routing) derives from it; same seed, same numbers",
       IntKey{{0, std::numeric_limits<int64_t>::max()},
              [](const Config& c) { return static_cast<int64_t>(c.seed); },
              [](Config& c, int64_t v) { c.seed = static_cast<uint64_t>(v); }},
       nullptr},
      {"device",
       "where the model runs (`cuda` is `cuda:0`); `--device` overrides it. A device this machine lacks is exit 2 "
       "saying why (not built with CUDA, no device found). A run may resume on another device: checkpoints hold host "
       "bytes",
       text_key(MOEGRAD_AT(device), false, [] { return std::string("`cpu`, `cuda` or `cuda:N`"); }), nullptr},
  };

  ConfigSection model{"model", "`model`", {}, {}, {}};
  model.keys = {
      {"kind", model_kinds_doc(),
       ChoiceKey{model_kind_names(), [](const Config& c) { return c.model.kind; },
                 [](Config& c, const std::string& v) { c.model.kind = v; }},
       nullptr},
      {"dim", "model width", int_key({1, kMaxWidth}, MOEGRAD_AT(model.dim)), nullptr},
      {"depth", "number of residual blocks", int_key({1, kMaxDepth}, MOEGRAD_AT(model.depth)), nullptr},
      {"hidden_mult", "`mlp_dense`: each block's feedforward is `Expert(dim, hidden_mult, prenorm)` of `expert_kind`",
       real_key(kMult, MOEGRAD_AT(model.hidden_mult)), is_dense},
  };
  add_block_keys(model);
  model.keys.insert(model.keys.end(), {
      {"noise_gates", "gumbel noise on the gate logits in training", bool_key(MOEGRAD_AT(model.noise_gates)), is_moe},
      {"noise_mult", "scale of that noise", real_key(kCoef, MOEGRAD_AT(model.noise_mult)), is_moe},
      {"router",
       "an MoERouter instead of the gating's linear layer: `{hidden_layers: null, N or [w1, ...], mechanism: "
       "softmax or gumbel}`",
       RouterKey{}, is_moe},
      {"heads", "`moe_lm`: attention heads, dividing `dim`", int_key({1, kMaxWidth}, MOEGRAD_AT(model.heads)), is_lm},
      {"context", "`moe_lm`: longest sequence (positional embeddings), at least `data.seq_len`",
       int_key({1, kMaxContext}, MOEGRAD_AT(model.context)), is_lm},
  });

  ConfigSection data{"data", "`data`", {}, {}, {}};
  data.keys = {
      {"task", tasks_doc(),
       ChoiceKey{task_names(), [](const Config& c) { return c.data.task; },
                 [](Config& c, const std::string& v) { c.data.task = v; }},
       nullptr},
      {"num_clusters", "`clusters`: Gaussian clusters, each with its own random target map `tanh(x W1) W2`",
       int_key({1, kMaxExperts}, MOEGRAD_AT(data.num_clusters)), clusters},
      {"input_dim", "`clusters`: size of the inputs", int_key({1, kMaxWidth}, MOEGRAD_AT(data.input_dim)), clusters},
      {"output_dim", "`clusters`: size of the targets", int_key({1, kMaxWidth}, MOEGRAD_AT(data.output_dim)), clusters},
      {"cluster_std", "`clusters`: spread of each cluster (centres are N(0, 4 I))",
       real_key({0, true, 1e6}, MOEGRAD_AT(data.cluster_std)), clusters},
      {"train_size", "`clusters`: training samples generated from the seed",
       int_key({1, kMaxSamples}, MOEGRAD_AT(data.train_size)), clusters},
      {"eval_size", "`clusters`: held-out samples", int_key({1, kMaxSamples}, MOEGRAD_AT(data.eval_size)), clusters},
      {"path", "`char_lm`: a text file; `null` uses the built-in generated corpus",
       text_key(MOEGRAD_AT(data.path), true, [] { return std::string("`null` or a file name"); }), char_lm},
      {"corpus_chars", "`char_lm`: size of the built-in corpus",
       int_key({1000, kMaxTextFileBytes}, MOEGRAD_AT(data.corpus_chars)), char_lm},
      {"seq_len", "`char_lm`: characters per training window", int_key({1, kMaxContext}, MOEGRAD_AT(data.seq_len)),
       char_lm},
  };

  for (const std::string& name : task_names())
    for (const ConfigKey& k : find_task(name).keys) data.keys.push_back(k);

  ConfigSection schedule{"schedule", "`optim.schedule`", {}, {}, {}};
  schedule.keys = {
      {"kind", schedules_doc(),
       ChoiceKey{schedule_names(), [](const Config& c) { return c.optim.schedule.kind; },
                 [](Config& c, const std::string& v) { c.optim.schedule.kind = v; }},
       nullptr},
      {"warmup_steps", "`warmup_cosine`: linear warmup, then a half cosine to `min_lr` at `train.steps`",
       int_key({0, kMaxSteps}, MOEGRAD_AT(optim.schedule.warmup_steps)), cosine},
      {"min_lr", "`warmup_cosine`: the floor, at most `optim.lr`", real_key(kNonNegative, MOEGRAD_AT(optim.schedule.min_lr)),
       cosine},
      {"step_size", "`step`: `lr * gamma^(step / step_size)`", int_key({1, kMaxSteps}, MOEGRAD_AT(optim.schedule.step_size)),
       stepped},
      // gamma scales optim.lr, which has no cap either.
      {"gamma", "`step`: the factor every `step_size` steps", real_key(kPositive, MOEGRAD_AT(optim.schedule.gamma)),
       stepped},
  };

  for (const std::string& name : schedule_names())
    for (const ConfigKey& k : find_schedule(name).keys) schedule.keys.push_back(k);

  ConfigSection optim{"optim", "`optim`", {}, {}, {}};
  optim.keys = {
      {"name", optimizers_doc(),
       ChoiceKey{optimizer_names(), [](const Config& c) { return c.optim.name; },
                 [](Config& c, const std::string& v) { c.optim.name = v; }},
       nullptr},
      {"lr", "peak learning rate", real_key(kPositive, MOEGRAD_AT(optim.lr)), nullptr},
      {"betas", "`adam`, `adamw`: `[beta1, beta2]`", BetasKey{}, adam},
      {"eps", "`adam`, `adamw`: added to the denominator", real_key(kUnit, MOEGRAD_AT(optim.eps)), adam},
      {"weight_decay", "decoupled for `adamw`, added to the gradient for `sgd` and `adam`",
       real_key(kNonNegative, MOEGRAD_AT(optim.weight_decay)), nullptr},
      {"momentum", "`sgd`", real_key(kUnit, MOEGRAD_AT(optim.momentum)), sgd},
      {"nesterov", "`sgd`: needs `momentum > 0`", bool_key(MOEGRAD_AT(optim.nesterov)), sgd},
      {"clip_norm", "global gradient-norm clipping; `0` turns it off (the norm is still logged)",
       real_key(kNonNegative, MOEGRAD_AT(optim.clip_norm)), nullptr},
  };
  for (const std::string& name : optimizer_names())
    for (const ConfigKey& k : find_optimizer(name).keys) optim.keys.push_back(k);
  optim.sections = {schedule};

  ConfigSection loop{"train", "`train`", {}, {}, {}};
  loop.keys = {
      {"steps", "optimizer steps", int_key({1, kMaxSteps}, MOEGRAD_AT(train.steps)), nullptr},
      {"batch_size", "samples per step (`clusters`: one routing group of that many tokens; `char_lm`: windows)",
       int_key({1, kMaxBatch}, MOEGRAD_AT(train.batch_size)), nullptr},
      {"eval_interval", "held-out evaluation every N steps, and at the end",
       int_key({1, kMaxSteps}, MOEGRAD_AT(train.eval_interval)), nullptr},
      {"eval_batches", "batches per evaluation", int_key({1, kMaxBatch}, MOEGRAD_AT(train.eval_batches)), nullptr},
      {"log_interval", "a metrics record (and a log line when not on a terminal) every N steps",
       int_key({1, kMaxSteps}, MOEGRAD_AT(train.log_interval)), nullptr},
      {"checkpoint_interval", "a checkpoint every N steps, and at the end",
       int_key({1, kMaxSteps}, MOEGRAD_AT(train.checkpoint_interval)), nullptr},
      {"keep_last", "checkpoints kept; older ones are deleted", int_key({1, 1000000}, MOEGRAD_AT(train.keep_last)),
       nullptr},
  };

  // Each registered kind's own keys (model_kind.h), applying to that kind alone.
  for (const std::string& name : model_kind_names())
    for (const ConfigKey& k : find_model_kind(name).keys) model.keys.push_back(k);

  ConfigSection parallel{"parallel", "`parallel` (under `mpirun -np W`; the data-parallel size is W)", {}, {}, {}};
  parallel.keys = {
      {"expert", "expert-parallel size K: each rank holds num_experts / K experts; K divides num_experts and W",
       int_key({1, 1 << 16}, MOEGRAD_AT(parallel.expert)), nullptr},
  };

  top.sections = {model, data, optim, loop, parallel};
  return top;
}

#undef MOEGRAD_AT

// 2^k for the large powers of two of the ranges, the number itself otherwise.
std::string number_text(int64_t v) {
  if (v >= (int64_t{1} << 20) && (v & (v - 1)) == 0) {
    int k = 0;
    while ((int64_t{1} << k) != v) ++k;
    return "2^" + std::to_string(k);
  }
  return std::to_string(v);
}

}  // namespace

KindParams& params_of(Config& c, ParamsOf section) {
  switch (section) {
    case ParamsOf::model: return c.model.params;
    case ParamsOf::data: return c.data.params;
    case ParamsOf::optim: return c.optim.params;
    case ParamsOf::schedule: return c.optim.schedule.params;
  }
  return c.model.params;
}

namespace {
template <typename T>
T param_or(const Config& c, ParamsOf section, const std::string& name, T fallback) {
  const KindParams& params = params_of(const_cast<Config&>(c), section);
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  return fallback;
}

}  // namespace

ConfigKey int_param(std::string name, std::string doc, IntRange range, int64_t default_value, ParamsOf section) {
  return {name, std::move(doc),
          IntKey{range, [name, default_value, section](const Config& c) { return param_or<int64_t>(c, section, name, default_value); },
                 [name, section](Config& c, int64_t v) { params_of(c, section)[name] = v; }},
          nullptr};
}

ConfigKey real_param(std::string name, std::string doc, RealRange range, double default_value, ParamsOf section) {
  return {name, std::move(doc),
          RealKey{range, [name, default_value, section](const Config& c) { return param_or<double>(c, section, name, default_value); },
                  [name, section](Config& c, double v) { params_of(c, section)[name] = v; }},
          nullptr};
}

ConfigKey bool_param(std::string name, std::string doc, bool default_value, ParamsOf section) {
  return {name, std::move(doc),
          BoolKey{[name, default_value, section](const Config& c) { return param_or<bool>(c, section, name, default_value); },
                  [name, section](Config& c, bool v) { params_of(c, section)[name] = v; }},
          nullptr};
}

void scope_keys(std::vector<ConfigKey>& keys, const std::string& kind, std::string (*chosen)(const Config&)) {
  for (ConfigKey& k : keys) k.applies = [kind, chosen](const Config& c) { return chosen(c) == kind; };
}

namespace {
template <typename K>
const K& own_key(const std::vector<ConfigKey>& keys, const std::string& kind, const std::string& name) {
  for (const ConfigKey& k : keys)
    if (k.name == name)
      if (const K* typed = std::get_if<K>(&k.type)) return *typed;
  throw Error("'" + kind + "' declares no key '" + name + "' of that type");
}
}  // namespace

int64_t own_int(const std::vector<ConfigKey>& keys, const std::string& kind, const Config& c, const std::string& name) {
  return own_key<IntKey>(keys, kind, name).get(c);
}
double own_real(const std::vector<ConfigKey>& keys, const std::string& kind, const Config& c, const std::string& name) {
  return own_key<RealKey>(keys, kind, name).get(c);
}
bool own_bool(const std::vector<ConfigKey>& keys, const std::string& kind, const Config& c, const std::string& name) {
  return own_key<BoolKey>(keys, kind, name).get(c);
}

ConfigSection config_schema() { return make_schema(); }

std::string values_text(const ConfigKey& key) {
  struct Visit {
    std::string operator()(const IntKey& k) const {
      if (k.range.hi == std::numeric_limits<int64_t>::max()) return "integer >= " + std::to_string(k.range.lo);
      return "integer in [" + number_text(k.range.lo) + ", " + number_text(k.range.hi) + "]";
    }
    std::string operator()(const RealKey& k) const {
      std::ostringstream os;
      if (k.range.hi == kAnyFinite) os << "number " << (k.range.lo_open ? "> " : ">= ") << k.range.lo;
      else os << "number in " << (k.range.lo_open ? "(" : "[") << k.range.lo << ", " << k.range.hi << "]";
      return os.str();
    }
    std::string operator()(const BoolKey&) const { return "`true` or `false`"; }
    std::string operator()(const TextKey& k) const { return k.values ? k.values() : "text"; }
    std::string operator()(const ChoiceKey& k) const {
      std::string s;
      for (const auto& n : k.names) s += (s.empty() ? "" : ", ") + ("`" + n + "`");
      return s;
    }
    std::string operator()(const ThresholdKey&) const { return "number >= 0, or a list of `top_n - 1`"; }
    std::string operator()(const BetasKey&) const { return "two numbers in [0, 1)"; }
    std::string operator()(const RouterKey&) const { return "`null` or a mapping"; }
  };
  return std::visit(Visit{}, key.type);
}

}  // namespace moegrad::train
