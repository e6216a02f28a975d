#include "moegrad/train/parity.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <variant>
#include <sstream>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/core/memory_budget.h"
#include "moegrad/moe/coor_descent.h"
#include "moegrad/moe/moe.h"
#include "moegrad/moe/size_estimate.h"
#include "moegrad/nn/loss.h"
#include "moegrad/nn/optim/adam.h"
#include "moegrad/nn/json_depth.h"
#include "moegrad/nn/safetensors.h"

namespace moegrad::train {

namespace {

using json = nlohmann::json;
using nn::StateDict;

// Typed access to a JSON config object; every key read is remembered so that unknown
// keys can be reported.
class Config {
 public:
  Config(const json& j, std::string prefix) : j_(j), prefix_(std::move(prefix)) {
    if (!j_.is_object()) throw ConfigError(prefix_, "expected a JSON object");
  }
  std::string path(const std::string& key) const { return prefix_ + key; }
  bool has(const std::string& key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  const json& raw(const std::string& key) {
    seen_.insert(key);
    if (!j_.contains(key)) throw ConfigError(prefix_ + key, "missing");
    return j_.at(key);
  }
  template <typename T>
  T get(const std::string& key, T fallback) {
    seen_.insert(key);
    if (!has(key)) return fallback;
    return as<T>(j_.at(key), prefix_ + key);
  }
  template <typename T>
  static T as(const json& v, const std::string& key) {
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) throw ConfigError(key, "expected true or false, got " + v.dump());
    } else if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) throw ConfigError(key, "expected an integer, got " + v.dump());
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number()) throw ConfigError(key, "expected a number, got " + v.dump());
    } else {
      if (!v.is_string()) throw ConfigError(key, "expected a string, got " + v.dump());
    }
    return v.get<T>();
  }
  Config child(const std::string& key) {
    seen_.insert(key);
    if (!j_.contains(key)) throw ConfigError(prefix_ + key, "missing");
    return Config(j_.at(key), prefix_ + key + ".");
  }
  void no_unknown_keys() const {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!seen_.count(it.key())) throw ConfigError(prefix_ + it.key(), "unknown argument");
  }

 private:
  const json& j_;
  std::string prefix_;
  std::set<std::string> seen_;
};

// Reads the fields of an options struct that the fixture's config gives, under the
// reference's argument names (gating_top_n); the others keep the struct's defaults.
// `except` names fields that are not the reference's arguments.
template <typename S>
void read_fields(Config& c, S& o, const std::set<std::string>& except = {}) {
  for (const OptionField<S>& f : S::fields()) {
    const std::string& key = f.name_in_reference();
    if (except.count(f.name) || !c.has(key)) continue;
    const json& v = c.raw(key);
    const std::string path = c.path(key);
    std::visit(
        [&](const auto& t) {
          using T = std::decay_t<decltype(t)>;
          if constexpr (std::is_same_v<T, IntField<S>>) {
            t.set(o, Config::as<int64_t>(v, path));
          } else if constexpr (std::is_same_v<T, RealField<S>>) {
            t.set(o, Config::as<double>(v, path));
          } else if constexpr (std::is_same_v<T, BoolField<S>>) {
            t.set(o, Config::as<bool>(v, path));
          } else if constexpr (std::is_same_v<T, TextField<S>>) {
            t.set(o, Config::as<std::string>(v, path));
          } else if constexpr (std::is_same_v<T, ChoiceField<S>>) {
            const std::string name = Config::as<std::string>(v, path);
            if (std::find(t.names.begin(), t.names.end(), name) == t.names.end()) {
              std::string list;
              for (const std::string& n : t.names) list += (list.empty() ? "\"" : ", \"") + n + "\"";
              throw ConfigError(path, "must be one of " + list + ", got \"" + name + "\"");
            }
            t.set(o, name);
          } else {
            if (v.is_array()) {
              std::vector<double> list;
              for (const json& x : v) list.push_back(Config::as<double>(x, path));
              t.set(o, list);
            } else {
              t.set(o, Config::as<double>(v, path));
            }
          }
        },
        f.type);
  }
}

// Validates options read from a fixture, naming the fields as the fixture (the reference)
// does: gating_top_n for MoE's top_n.
template <typename Options>
void validate_as_fixture(const Options& o) {
  try {
    o.validate();
  } catch (const ConfigError& e) {
    for (const OptionField<Options>& f : Options::fields())
      if (e.key() == f.name) throw ConfigError(f.name_in_reference(), e.message());
    throw;
  }
}

template <typename S>
S read_options(Config& c) {
  S o;
  read_fields(c, o);
  c.no_unknown_keys();
  return o;
}

moe::MoEOptions moe_options(Config& c, moe::Dispatch dispatch) {
  moe::MoEOptions o;
  read_fields(c, o, {"dispatch"});  // a command-line choice here, not the reference's
  o.dispatch = dispatch;
  c.no_unknown_keys();
  return o;
}

moe::SparseMoEBlockOptions block_options(Config& c, moe::Dispatch dispatch) {
  moe::SparseMoEBlockOptions o;
  Config m = c.child("moe");
  o.moe = moe_options(m, dispatch);
  std::set<std::string> moe_fields;  // under "moe" in the fixture, as the reference nests them
  for (const auto& f : moe::MoEOptions::fields()) moe_fields.insert(f.name);
  read_fields(c, o, moe_fields);
  c.no_unknown_keys();
  return o;
}

// The fixture's tensors by role.
struct Fixture {
  std::string path;
  StateDict all;
  std::string module;
  json config, call;

  const Tensor* find(const std::string& name) const { return all.find(name); }
  Tensor need(const std::string& name) const {
    const Tensor* t = all.find(name);
    if (!t) throw Error(str_cat(path, ": missing tensor '", name, "' needed by ", module));
    return *t;
  }
  StateDict with_prefix(const std::string& prefix) const {
    StateDict out;
    for (const auto& [name, t] : all)
      if (name.rfind(prefix, 0) == 0) out.set(name.substr(prefix.size()), t);
    return out;
  }
};

Fixture parse_fixture(std::string_view bytes, const std::string& path) {
  nn::SafetensorsContents f = nn::parse_safetensors(bytes, path);
  Fixture fx{path, f.tensors, "", {}, {}};
  auto meta = [&](const std::string& key) -> const std::string& {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end()) throw Error(path + ": metadata has no '" + key + "' (not a moe-parity/1 file?)");
    return it->second;
  };
  if (meta("format") != "moe-parity/1")
    throw Error(path + ": metadata format is '" + meta("format") + "', expected 'moe-parity/1'");
  fx.module = meta("module");
  auto parse = [&](const std::string& key) {
    if (std::string why = nn::json_nesting_problem(meta(key), nn::kMaxJsonDepth); !why.empty())
      throw Error(path + ": metadata '" + key + "' " + why);
    json j = json::parse(meta(key), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) throw Error(path + ": metadata '" + key + "' is not a JSON object");
    return j;
  };
  fx.config = parse("config");
  fx.call = f.metadata.count("call") ? parse("call") : json::object();
  return fx;
}

// Fixtures are small; a config asking for more than this is malformed, not ambitious.
constexpr int64_t kMaxFixtureWidth = 1 << 16;

void check_width(int64_t v, const std::string& key) {
  if (v > kMaxFixtureWidth) throw ConfigError(key, str_cat("must be at most ", kMaxFixtureWidth, " in a fixture, got ", v));
}

struct TrajectoryPlan {
  moe::SparseMoEBlockOptions block;
  int64_t head_in = 0, head_out = 0;
  bool head_bias = true;
  nn::AdamOptions adam;
  int64_t steps = 0;
};

// What a fixture asks for: its module's options, parsed and validated, and the call.
struct FixturePlan {
  std::variant<int64_t, moe::ExpertOptions, moe::MoERouterOptions, moe::CoorDescentTopkOptions,
               moe::TopNGatingOptions, moe::MoEOptions, moe::SparseMoEBlockOptions, TrajectoryPlan>
      options;
  bool training = true;
  bool noise_gates = false;
  double noise_mult = 1.0;
};

// What running a fixture's module will hold, estimated in double before anything is built:
// a 200-byte file may ask for 4096 experts of width 4096. Parameters are held with their
// gradient and optimizer state; the inputs' tokens are taken as one routing group (the
// largest the dense path's (group, token, expert, capacity) tensors can be) or, for
// CoorDescentTopk, pass through n_iters unrolled iterations that each save a few
// input-sized tensors.
void require_fixture_memory(const Fixture& fx, const FixturePlan& plan) {
  double inputs = 0;
  for (const auto& [name, t] : fx.all)
    if (name.rfind("input/", 0) == 0) inputs += static_cast<double>(t.numel());
  auto tokens = [&](int64_t dim) { return inputs / static_cast<double>(std::max<int64_t>(dim, 1)); };
  const double elements = std::visit(
      [&](const auto& o) -> double {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          return static_cast<double>(o) + inputs * 4;
        } else if constexpr (std::is_same_v<T, moe::ExpertOptions>) {
          return moe::expert_parameter_count(o) + moe::expert_activation_count(o, tokens(o.dim));
        } else if constexpr (std::is_same_v<T, moe::MoERouterOptions>) {
          // Each layer's activations are at most as wide as its parameters are tall.
          return moe::router_parameter_count(o) * (1 + tokens(o.dim) / static_cast<double>(std::max<int64_t>(o.dim, 1)));
        } else if constexpr (std::is_same_v<T, moe::CoorDescentTopkOptions>) {
          return inputs * 6 * static_cast<double>(o.descent.n_iters);
        } else if constexpr (std::is_same_v<T, moe::TopNGatingOptions>) {
          const double d = static_cast<double>(o.dim), e = static_cast<double>(o.num_gates), n = tokens(o.dim);
          return d * e + n * n * e * 4;
        } else if constexpr (std::is_same_v<T, moe::MoEOptions>) {
          return moe::moe_parameter_count(o) + moe::moe_activation_count(o, 1, tokens(o.dim));
        } else if constexpr (std::is_same_v<T, moe::SparseMoEBlockOptions>) {
          return moe::block_parameter_count(o) + moe::block_activation_count(o, 1, tokens(o.moe.dim));
        } else {
          const moe::SparseMoEBlockOptions& b = o.block;
          return moe::block_parameter_count(b) + moe::block_activation_count(b, 1, tokens(b.moe.dim)) +
                 static_cast<double>(o.head_in) * static_cast<double>(o.head_out);
        }
      },
      plan.options);
  const double bytes = elements * 8 /* float64 */ * 4 /* value, gradient, saved, optimizer */;
  require_memory(bytes >= 9.2e18 ? INT64_MAX : static_cast<int64_t>(bytes), fx.module + " of this fixture's config");
}

FixturePlan plan_fixture(const Fixture& fx, moe::Dispatch dispatch) {
  Config cfg(fx.config, "config.");
  Config call(fx.call, "call.");
  FixturePlan plan;
  plan.training = call.get<bool>("training", true);
  const std::string& m = fx.module;
  if (m == "RMSNorm") {
    const int64_t dim = cfg.get<int64_t>("dim", 0);
    if (dim < 1) throw ConfigError("config.dim", str_cat("must be >= 1, got ", dim));
    check_width(dim, "config.dim");
    plan.options = dim;
  } else if (m == "Expert") {
    moe::ExpertOptions o;
    read_fields(cfg, o, {"kind"});  // the reference's Expert is geglu alone
    o.validate();
    check_width(o.hidden(), "config.hidden_mult");
    check_width(o.dim, "config.dim");
    plan.options = o;
  } else if (m == "MoERouter") {
    moe::MoERouterOptions o;
    read_fields(cfg, o);
    if (cfg.has("hidden_layers")) {
      const json& h = cfg.raw("hidden_layers");
      if (h.is_array()) {
        std::vector<int64_t> widths;
        for (const json& w : h) widths.push_back(Config::as<int64_t>(w, "config.hidden_layers"));
        o.hidden_layers = widths;
      } else {
        o.hidden_layers = Config::as<int64_t>(h, "config.hidden_layers");
      }
    } else {
      cfg.raw("hidden_layers");  // present as null
    }
    o.validate();
    check_width(o.dim, "config.dim");
    check_width(o.num_experts, "config.num_experts");
    if (auto* w = std::get_if<std::vector<int64_t>>(&o.hidden_layers))
      for (int64_t v : *w) check_width(v, "config.hidden_layers");
    if (auto* count = std::get_if<int64_t>(&o.hidden_layers)) check_width(*count, "config.hidden_layers");
    plan.options = o;
  } else if (m == "CoorDescentTopk") {
    moe::CoorDescentTopkOptions o;
    o.k = cfg.get<int64_t>("k", 1);
    o.coor_descent_k_ratio = cfg.get<double>("coor_descent_k_ratio", o.coor_descent_k_ratio);
    o.descent.n_iters = cfg.get<int64_t>("n_iters", o.descent.n_iters);
    o.descent.eps = cfg.get<double>("eps", o.descent.eps);
    if (cfg.has("eps_init")) o.descent.eps_init = cfg.get<double>("eps_init", 0.0);
    else cfg.get<double>("eps_init", 0.0);
    o.descent.eps_decay = cfg.get<double>("eps_decay", o.descent.eps_decay);
    o.fused = cfg.get<bool>("fused", false);
    o.non_differentiable = cfg.get<bool>("non_differentiable", false);
    o.validate();
    check_width(o.descent.n_iters, "config.n_iters");
    plan.options = o;
  } else if (m == "TopNGating") {
    moe::TopNGatingOptions o = read_options<moe::TopNGatingOptions>(cfg);
    o.validate();
    check_width(o.dim, "config.dim");
    check_width(o.num_gates, "config.num_gates");
    plan.options = o;
  } else if (m == "MoE") {
    moe::MoEOptions o = moe_options(cfg, dispatch);
    validate_as_fixture(o);
    check_width(o.dim, "config.dim");
    check_width(o.num_experts, "config.num_experts");
    plan.options = o;
  } else if (m == "SparseMoEBlock") {
    moe::SparseMoEBlockOptions o = block_options(cfg, dispatch);
    validate_as_fixture(o);
    check_width(o.moe.dim, "config.moe.dim");
    check_width(o.moe.num_experts, "config.moe.num_experts");
    plan.options = o;
  } else if (m == "TrainTrajectory") {
    TrajectoryPlan t;
    Config block_cfg = cfg.child("block");
    Config head_cfg = cfg.child("head");
    Config opt_cfg = cfg.child("optimizer");
    t.steps = cfg.get<int64_t>("steps", 0);
    if (t.steps < 0 || t.steps > 10000) throw ConfigError("config.steps", str_cat("must be in [0, 10000], got ", t.steps));
    cfg.get<std::string>("loss", "");           // descriptive text
    cfg.get<std::string>("loss_recorded", "");  // descriptive text
    cfg.get<std::string>("model", "");          // descriptive text
    t.block = block_options(block_cfg, dispatch);
    validate_as_fixture(t.block);
    check_width(t.block.moe.dim, "config.block.moe.dim");
    check_width(t.block.moe.num_experts, "config.block.moe.num_experts");
    t.head_in = head_cfg.get<int64_t>("in_features", 0);
    t.head_out = head_cfg.get<int64_t>("out_features", 0);
    t.head_bias = head_cfg.get<bool>("bias", true);
    head_cfg.no_unknown_keys();
    if (t.head_in != t.block.moe.dim || t.head_out < 1)
      throw ConfigError("config.head", str_cat("in_features must equal the block's dim ", t.block.moe.dim,
                                               " and out_features be >= 1"));
    check_width(t.head_out, "config.head.out_features");
    if (opt_cfg.get<std::string>("name", "AdamW") != "AdamW")
      throw ConfigError("config.optimizer.name", "only AdamW trajectories are supported");
    t.adam.lr = opt_cfg.get<double>("lr", 1e-3);
    const json& betas = opt_cfg.raw("betas");
    if (!betas.is_array() || betas.size() != 2) throw ConfigError("config.optimizer.betas", "expected two numbers");
    t.adam.beta1 = Config::as<double>(betas[0], "config.optimizer.betas[0]");
    t.adam.beta2 = Config::as<double>(betas[1], "config.optimizer.betas[1]");
    t.adam.eps = opt_cfg.get<double>("eps", 1e-8);
    t.adam.weight_decay = opt_cfg.get<double>("weight_decay", 1e-2);
    t.adam.amsgrad = opt_cfg.get<bool>("amsgrad", false);
    if (opt_cfg.get<bool>("maximize", false)) throw ConfigError("config.optimizer.maximize", "must be false");
    opt_cfg.no_unknown_keys();
    Tensor probe = zeros({1}, DType::f64, cpu_backend());
    nn::AdamW check(nn::NamedTensors{{"p", requires_grad_(probe)}}, t.adam);  // validates the hyperparameters
    plan.options = t;
  } else {
    throw Error(fx.path + ": unknown module '" + fx.module +
                "' (known: RMSNorm, Expert, MoERouter, CoorDescentTopk, TopNGating, MoE, SparseMoEBlock, "
                "TrainTrajectory)");
  }
  cfg.no_unknown_keys();
  if (m == "TopNGating" || m == "MoE" || m == "SparseMoEBlock" || m == "TrainTrajectory") {
    plan.noise_gates = call.get<bool>("noise_gates", false);
    plan.noise_mult = call.get<double>("noise_mult", 1.0);
  }
  call.no_unknown_keys();
  require_fixture_memory(fx, plan);
  return plan;
}

// What a module run produced: named outputs (as in the file) and the tensors whose
// gradients the file records.
struct RunResult {
  std::map<std::string, Tensor> outputs;
  std::map<std::string, Tensor> grad_targets;  // "param/<name>" or "input/<name>" -> tensor
};

Tensor input(const Fixture& fx, const std::string& name, DType dtype, const Device& device) {
  const Tensor* t = fx.find("input/" + name);
  if (!t) return Tensor();
  return core::to(is_floating(t->dtype()) ? core::clone(core::to(*t, dtype)) : *t, device);
}

void load_params(nn::Module& m, const Fixture& fx, DType dtype) {
  m.to(dtype);
  m.load_state_dict(fx.with_prefix("param/"), /*strict=*/true);
}

void add_params(RunResult& r, nn::Module& m) {
  for (auto& [name, p] : m.named_parameters()) r.grad_targets["param/" + name] = p;
}

void put_moe_outputs(RunResult& r, const moe::MoEOutput& out) {
  r.outputs["outputs"] = out.outputs;
  r.outputs["total_aux_loss"] = out.total_aux_loss;
  r.outputs["balance_loss"] = out.balance_loss;
  r.outputs["router_z_loss"] = out.router_z_loss;
}

RunResult run_module(const Fixture& fx, const FixturePlan& plan, const ParityOptions& opt) {
  Generator gen(0);  // initial values are replaced by the fixture's
  const DType dt = opt.dtype;
  RunResult r;
  Tensor x = requires_grad_(input(fx, "x", dt, opt.device));
  if (!x.defined()) throw Error(fx.path + ": missing tensor 'input/x'");
  r.grad_targets["input/x"] = x;
  moe::GatingCall call;
  call.noise_gates = plan.noise_gates;
  call.noise_mult = plan.noise_mult;
  call.route_uniforms = input(fx, "route_uniforms", dt, opt.device);
  call.gate_noise = input(fx, "gate_noise", dt, opt.device);
  auto prepare = [&](nn::Module& m) {
    load_params(m, fx, dt);
    m.to(opt.device);
    m.train(plan.training);
    add_params(r, m);
  };
  std::visit(
      [&](const auto& o) {
        using O = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<O, int64_t>) {
          nn::RMSNorm m(o, dt);
          prepare(m);
          r.outputs["out"] = m.forward(x);
        } else if constexpr (std::is_same_v<O, moe::ExpertOptions>) {
          moe::Expert m(o, gen, dt);
          prepare(m);
          r.outputs["out"] = m.forward(x);
        } else if constexpr (std::is_same_v<O, moe::MoERouterOptions>) {
          moe::MoERouter m(o, gen, dt);
          prepare(m);
          r.outputs["out"] = m.forward(x, input(fx, "gumbel_noise", dt, opt.device));
        } else if constexpr (std::is_same_v<O, moe::CoorDescentTopkOptions>) {
          moe::CoorDescentTopkResult t = moe::coor_descent_topk(x, o);
          r.outputs["values"] = t.values;
          r.outputs["indices"] = t.indices;
          if (t.coor_descent_values.defined()) r.outputs["coor_descent_values"] = t.coor_descent_values;
          if (t.gates.defined()) r.outputs["gates"] = t.gates;
        } else if constexpr (std::is_same_v<O, moe::TopNGatingOptions>) {
          moe::TopNGating m(o, gen, dt);
          prepare(m);
          moe::GatingOutput out = m.forward(x, call);
          r.outputs["dispatch_tensor"] = out.dispatch_tensor;
          r.outputs["combine_tensor"] = out.combine_tensor;
          r.outputs["balance_loss"] = out.balance_loss;
          r.outputs["router_z_loss"] = out.router_z_loss;
        } else if constexpr (std::is_same_v<O, moe::MoEOptions>) {
          moe::MoE m(o, gen, dt);
          prepare(m);
          put_moe_outputs(r, m.forward(x, call));
        } else if constexpr (std::is_same_v<O, moe::SparseMoEBlockOptions>) {
          moe::SparseMoEBlock m(o, gen, dt);
          prepare(m);
          put_moe_outputs(r, m.forward(x, call));
        } else {
          throw Error(fx.path + ": not a single-module fixture");
        }
      },
      plan.options);
  return r;
}

// TrainTrajectory: a short AdamW run of head(block(x)) on MSE; compares per-step losses
// and final parameters.
std::map<std::string, Tensor> run_trajectory(const Fixture& fx, const FixturePlan& plan, const ParityOptions& opt) {
  const TrajectoryPlan& t = std::get<TrajectoryPlan>(plan.options);
  Generator gen(0);
  const DType dt = opt.dtype;
  class Model : public nn::Module {
   public:
    Model(const TrajectoryPlan& t, Generator& gen, DType dt) {
      register_module("block", block, std::make_shared<moe::SparseMoEBlock>(t.block, gen, dt));
      register_module("head", head, std::make_shared<nn::Linear>(t.head_in, t.head_out, t.head_bias, gen, dt));
    }
    std::string type_name() const override { return "TrainTrajectory"; }
    std::shared_ptr<moe::SparseMoEBlock> block;
    std::shared_ptr<nn::Linear> head;
  } model(t, gen, dt);
  auto block = model.block;
  auto head = model.head;
  model.to(dt);
  model.load_state_dict(fx.with_prefix("param/"), /*strict=*/true);
  model.to(opt.device);
  model.train(plan.training);
  moe::GatingCall gc;
  gc.noise_gates = plan.noise_gates;
  gc.noise_mult = plan.noise_mult;
  MOEGRAD_CHECK(!gc.noise_gates, fx.path, ": noisy trajectories need gate noise per step, which the format lacks");
  nn::AdamW optimizer(model.named_parameters(), t.adam);
  Tensor x = input(fx, "x", dt, opt.device), target = input(fx, "target", dt, opt.device);
  if (!x.defined() || !target.defined()) throw Error(fx.path + ": needs input/x and input/target");
  std::vector<double> losses;
  for (int64_t k = 0; k < t.steps; ++k) {
    optimizer.zero_grad();
    gc.route_uniforms = input(fx, str_cat("route_uniforms_step", k), dt, opt.device);
    if (!gc.route_uniforms.defined()) throw Error(str_cat(fx.path, ": missing input/route_uniforms_step", k));
    Tensor pred = head->forward(block->forward(x, gc).outputs);
    Tensor loss = nn::mse_loss(pred, target);
    losses.push_back(loss.item<double>());
    backward(loss);
    optimizer.step();
  }
  std::map<std::string, Tensor> out;
  out["output/loss"] = from_vector(losses, {}, DType::f64);
  for (auto& [name, p] : model.named_parameters()) out["output/final/" + name] = p;
  return out;
}

TensorComparison compare(const std::string& name, const Tensor& got, const Tensor& want, DType dtype) {
  TensorComparison c{name, 0.0, true, ""};
  const bool scalar_like = got.numel() == 1 && want.numel() == 1 && got.dim() <= 1 && want.dim() <= 1;
  if (!scalar_like && got.shape() != want.shape()) {
    c.ok = false;
    c.max_abs_error = std::numeric_limits<double>::infinity();
    c.detail = str_cat("shape ", got.shape(), ", expected ", want.shape());
    return c;
  }
  const double atol = dtype == DType::f64 ? 1e-7 : 1e-4, rtol = dtype == DType::f64 ? 1e-6 : 1e-3;
  const bool exact = !is_floating(want.dtype());
  std::vector<double> a = got.to_vector<double>(), b = want.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::abs(a[i] - b[i]);
    const bool bad = exact ? a[i] != b[i] : !(err <= atol + rtol * std::abs(b[i]));
    if (!(err <= c.max_abs_error)) c.max_abs_error = err;  // NaN sticks
    if (bad && c.ok) {
      c.ok = false;
      c.detail = str_cat("element ", i, ": got ", a[i], ", expected ", b[i]);
    }
  }
  return c;
}

}  // namespace

void check_parity_fixture(std::string_view bytes, const std::string& source) {
  Fixture fx = parse_fixture(bytes, source);
  plan_fixture(fx, moe::Dispatch::indexed);
}

ParityResult run_parity_fixture(const std::string& path, const ParityOptions& opt) {
  ParityResult res;
  res.path = path;
  try {
    Fixture fx = parse_fixture(nn::read_file(path), path);
    res.module = fx.module;
    FixturePlan plan = plan_fixture(fx, opt.dispatch);
    if (fx.module == "TrainTrajectory") {
      for (auto& [name, got] : run_trajectory(fx, plan, opt)) {
        Tensor want = fx.need(name);
        res.comparisons.push_back(compare(name, got, want, opt.dtype));
      }
    } else {
      RunResult run = run_module(fx, plan, opt);
      // L = sum over outputs with a cotangent of sum(o * cotangent).
      Tensor loss;
      for (auto& [name, out] : run.outputs) {
        const Tensor* cot = fx.find("cotangent/" + name);
        if (!cot || !requires_grad(out)) continue;
        Tensor term = sum(out * core::reshape(core::to(core::to(*cot, out.dtype()), out.device()), out.shape()));
        loss = loss.defined() ? loss + term : term;
      }
      if (loss.defined()) backward(loss);
      for (auto& [name, out] : run.outputs) {
        if (const Tensor* want = fx.find("output/" + name))
          res.comparisons.push_back(compare("output/" + name, out, *want, opt.dtype));
      }
      for (const auto& [name, want] : fx.all)
        if (name.rfind("output/", 0) == 0 && !run.outputs.count(name.substr(7)))
          throw Error(path + ": the module has no output '" + name.substr(7) + "' that the file records");
      for (auto& [target, t] : run.grad_targets) {
        Tensor g = grad(t);
        const Tensor* want = fx.find("grad/" + target);
        if (want) {
          if (!g.defined()) g = zeros_like(t);
          res.comparisons.push_back(compare("grad/" + target, g, *want, opt.dtype));
        } else if (g.defined()) {
          // No stored gradient means none, or only zeros, in the reference.
          res.comparisons.push_back(compare("grad/" + target + " (expected none)", g, zeros_like(g), opt.dtype));
        }
      }
    }
    res.ok = !res.comparisons.empty();
    for (const auto& c : res.comparisons) res.ok = res.ok && c.ok;
  } catch (const std::exception& e) {
    res.ok = false;
    res.error = e.what();
  }
  return res;
}

std::string format_parity_line(const ParityResult& r, const ParityOptions& opt) {
  std::ostringstream os;
  os << (r.ok ? "PASS " : "FAIL ") << r.path << " [" << (r.module.empty() ? "?" : r.module) << ", "
     << dtype_name(opt.dtype) << ", " << moe::dispatch_name(opt.dispatch) << "]";
  if (!r.error.empty()) {
    os << " error: " << r.error;
    return os.str();
  }
  os.precision(2);
  for (const auto& c : r.comparisons) {
    os << "  " << c.name << " " << std::scientific << c.max_abs_error;
    if (!c.ok) os << " (FAIL: " << c.detail << ")";
  }
  return os.str();
}

}  // namespace moegrad::train
