#include "moegrad/train/trainer.h"

#include <bit>
#include <csignal>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <iostream>
#include <optional>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/nn/optim/clip_grad.h"
#include "moegrad/nn/safetensors.h"
#include "moegrad/train/checkpoint.h"
#include "moegrad/train/cluster_task.h"
#include "moegrad/train/config.h"
#include "moegrad/train/interrupt.h"
#include "moegrad/train/metrics.h"
#include "moegrad/train/model_kind.h"
#include "moegrad/train/model.h"
#include "moegrad/train/optimizer_kind.h"
#include "moegrad/train/parallel.h"
#include "moegrad/train/routing_report.h"
#include "moegrad/train/schedule_kind.h"
#include "moegrad/train/run_folder.h"
#include "moegrad/train/task.h"

namespace moegrad::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Separate streams, so that evaluation or a change in the data never shifts the routing
// draws of training (and the other way round).
uint64_t stream_seed(uint64_t seed, uint64_t stream) { return seed * 0x9e3779b97f4a7c15ULL + stream; }
constexpr uint64_t kInitStream = 1, kTrainStream = 2, kDataStream = 3, kEvalStream = 4;

// The routing draws of a forward: threshold routing's uniforms and, with model.noise_gates,
// the gate noise, from `gen`.
moe::GatingCall routing_call(const Config& cfg, Generator& gen) {
  moe::GatingCall call;
  call.gen = &gen;
  call.noise_gates = cfg.model.noise_gates;
  call.noise_mult = cfg.model.noise_mult;
  return call;
}

// A step's loss terms, read back to the host together: one sync a step, not one per term
// and layer.
struct StepScalars {
  double loss = 0;  // main + aux in the model's dtype, as backward saw it
  double main_loss = 0, aux_loss = 0;
  std::vector<double> balance_loss, router_z_loss;  // per MoE layer

  static StepScalars read(const ModelOutput& out, const Tensor& loss = Tensor()) {
    TensorList parts = {loss.defined() ? loss : out.main_loss, out.main_loss};
    if (out.aux_loss.defined()) parts.push_back(out.aux_loss);
    for (const auto& l : out.layers) parts.insert(parts.end(), {l.balance_loss, l.router_z_loss});
    for (Tensor& t : parts) t = core::reshape(core::to(core::sum(detach(t)), DType::f64), {1});
    const std::vector<double> v = core::cat(parts, 0).to_vector<double>();
    StepScalars s;
    size_t at = 0;
    s.loss = v[at++];
    s.main_loss = v[at++];
    if (out.aux_loss.defined()) s.aux_loss = v[at++];
    for (size_t i = 0; i < out.layers.size(); ++i) {
      s.balance_loss.push_back(v[at++]);
      s.router_z_loss.push_back(v[at++]);
    }
    return s;
  }
  double sum(const std::vector<double>& per_layer) const {
    double total = 0;
    for (double x : per_layer) total += x;
    return total;
  }
  // Every term that is not finite, with its value ("the main loss is NaN, ..."), or "".
  std::string non_finite_terms() const {
    std::string terms;
    auto check = [&](const std::string& name, double v) {
      if (std::isfinite(v)) return;
      terms += (terms.empty() ? "" : ", ") + name + " is " + (std::isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
    };
    check("the main loss", main_loss);
    for (size_t i = 0; i < balance_loss.size(); ++i) {
      const std::string layer = " of MoE layer " + std::to_string(i);
      check("balance_loss" + layer, balance_loss[i]);
      check("router_z_loss" + layer, router_z_loss[i]);
    }
    return terms;
  }
};

// True when every element is finite. Runs on every parameter after every step, so on the
// host it reads the exponent bits directly instead of building tensors.
bool all_finite(const Tensor& t) {
  if (!t.defined() || t.numel() == 0 || !is_floating(t.dtype())) return true;
  if (t.device().is_cpu() && t.is_contiguous() && t.dtype() == DType::f32) {
    const float* p = t.data_ptr<float>();
    bool bad = false;
    for (int64_t i = 0; i < t.numel(); ++i) bad |= (std::bit_cast<uint32_t>(p[i]) & 0x7f800000u) == 0x7f800000u;
    return !bad;
  }
  return non_finite_kind(t).empty();
}

// Whether every tensor (or gradient) of `named` is finite. Off the host, in one read: x * 0
// is NaN exactly where x is not finite, and a NaN survives the sum of all of them.
bool all_finite(const nn::NamedTensors& named, bool grads) {
  Tensor acc;
  for (const auto& [name, p] : named) {
    const Tensor t = grads ? moegrad::grad(p) : p;
    if (!t.defined() || t.numel() == 0) continue;
    if (t.device().is_cpu()) {
      if (!all_finite(t)) return false;
      continue;
    }
    const Tensor d = core::to(t, DType::f64);
    Tensor s = core::sum(core::binary(BinaryOp::mul, d, core::scalar_like(0.0, d)));
    acc = acc.defined() ? core::binary(BinaryOp::add, acc, s) : s;
  }
  return !acc.defined() || acc.item<double>() == 0.0;
}

// The name and kind ("NaN"/"Inf") of the first tensor of `named` that is not finite.
std::optional<std::pair<std::string, std::string>> first_non_finite(const nn::NamedTensors& named, bool grads) {
  if (all_finite(named, grads)) return std::nullopt;
  for (const auto& [name, p] : named) {
    const Tensor t = grads ? moegrad::grad(p) : p;
    if (!all_finite(t)) return std::make_pair(name, non_finite_kind(t));
  }
  return std::nullopt;
}

// " (the largest parameter is 'X', |x| up to 1.2e+30)": the usual sign of a learning rate
// that blew the weights up, while every single weight is still finite.
std::string largest_parameter(const nn::NamedTensors& named) {
  std::string name;
  double largest = -1;
  for (const auto& [n, p] : named) {
    if (p.numel() == 0) continue;
    const double m = core::amax(core::unary(UnaryOp::abs, p)).item<double>();
    if (!(m <= largest)) largest = m, name = n;
  }
  if (name.empty()) return "";
  std::ostringstream os;
  os.precision(3);
  os << " (the largest parameter is '" << name << "', |x| up to " << largest << ")";
  return os.str();
}

// The run folder's default name: runs/<config name>-<local time>; create_new_folder adds
// -2, -3... when two runs start in the same second.
std::string default_run_dir(const std::string& config_path) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
  return (fs::path("runs") / (fs::path(config_path).stem().string() + "-" + stamp)).string();
}

// The config a run was started with must still describe the same model, data and
// optimizer; only the train section (steps, intervals) may change on resume. `location`
// names the option that gave the checkpoint, `whose` the config it is compared with.
// Each leaf of a resolved config's YAML by key path ("optim.lr" -> "0.01"), lists inline.
std::map<std::string, std::string> flatten_config_yaml(const std::string& yaml) {
  std::map<std::string, std::string> out;
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& n, const std::string& path) {
    if (n.IsMap()) {
      for (const auto& kv : n) walk(kv.second, (path.empty() ? "" : path + ".") + kv.first.as<std::string>());
      return;
    }
    YAML::Emitter e;
    e << YAML::Flow << n;
    out[path] = e.c_str();
  };
  walk(YAML::Load(yaml), "");
  return out;
}

// What may differ: the loop (steps, intervals), the device, and, when only evaluating,
// the optimizer and its schedule, which do not change what a checkpoint's weights compute.
enum class Purpose { resume, evaluate };

// A saved config, parsed only to be compared with the config being run. That one has met
// this machine's limits (or been forced past them); the saved one is not refused for them.
Config parse_saved_config(const std::string& saved_yaml, const std::string& where) {
  std::ostream discard(nullptr);
  return parse_config(saved_yaml, where, {}, {.force = true, .warnings = &discard});
}

void check_same_run(const Config& now, const std::string& saved_yaml, const std::string& where,
                    const std::string& location, const std::string& whose, Purpose purpose = Purpose::resume) {
  Config saved = parse_saved_config(saved_yaml, where);
  Config a = now, b = saved;
  if (purpose == Purpose::evaluate) a.optim = b.optim = OptimConfig{};
  a.train = b.train = LoopConfig{};
  a.device = b.device = "";  // a run may continue on another device
  a.parallel = b.parallel = ParallelConfig{};  // and under another layout of ranks
  const std::string ya = to_yaml(a), yb = to_yaml(b);
  if (ya == yb) return;
  // Every differing key, so that one attempt shows all that must change.
  const auto now_keys = flatten_config_yaml(ya), saved_keys = flatten_config_yaml(yb);
  std::string diffs;
  int count = 0;
  auto differ = [&](const std::string& key, const std::string& here, const std::string& there) {
    diffs += (count++ ? "; " : "") + key + ": " + here + " here, " + there + " there";
  };
  for (const auto& [key, value] : now_keys) {
    auto it = saved_keys.find(key);
    if (it == saved_keys.end()) differ(key, value, "unset");
    else if (it->second != value) differ(key, value, it->second);
  }
  for (const auto& [key, value] : saved_keys)
    if (!now_keys.count(key)) differ(key, "unset", value);
  throw ConfigFileError(location, "config",
                        "differs from " + whose + " in " + std::to_string(count) + (count == 1 ? " key: " : " keys: ") +
                            diffs);
}

// How a run starts: where it writes and where its state comes from.
enum class Start {
  fresh,       // step 0 in a new (or reusable) folder
  in_place,    // continue the run of a folder (from its newest loadable checkpoint, or step 0)
  loose,       // a checkpoint outside any run folder, continued in a new folder
};

// A checkpoint is inside a run when it sits in <run>/checkpoints and <run> has its config.
std::optional<std::string> run_of_checkpoint(const std::string& checkpoint) {
  const fs::path p = fs::absolute(checkpoint).lexically_normal();
  const fs::path dir = p.parent_path();
  if (dir.filename() != "checkpoints" || !fs::exists(dir.parent_path() / "config.yaml")) return std::nullopt;
  return dir.parent_path().string();
}

bool same_folder(const std::string& a, const std::string& b) {
  return fs::weakly_canonical(a) == fs::weakly_canonical(b);
}

// The folder a fresh run (or a loose checkpoint's continuation) may write into: new, or a
// run folder without checkpoints. Writes nothing. `locked`: this run holds its lock.
void check_new_folder(const std::string& dir, bool locked) {
  const std::string where = "--out " + dir;
  if (auto who = locked ? std::nullopt : RunLock::holder(dir))
    throw ConfigFileError(where, "out", "the run folder is in use by another moegrad run (" + *who + ")");
  const FolderState st = inspect_run_folder(dir);
  switch (st.kind) {
    case FolderKind::absent:
    case FolderKind::reusable:
      return;
    case FolderKind::not_a_folder:
      throw ConfigFileError(where, "out", dir + " is a file, not a folder; give a folder for the run");
    case FolderKind::has_checkpoints:
      throw ConfigFileError(where, "out",
                            "already holds files of a run with checkpoints; resume it with --resume " + dir +
                                " or choose a new folder");
    case FolderKind::foreign:
      throw ConfigFileError(where, "out",
                            "already holds files that are not a moegrad run's (" + st.foreign_entry +
                                "); choose a new folder");
  }
}

// The newest checkpoint of a run that loads, falling back past damaged ones (each named
// in `log`); nothing when the run has no complete checkpoint.
std::optional<std::pair<std::string, CheckpointState>> newest_loadable(const std::string& run_dir, std::ostream& log) {
  std::vector<std::string> all = list_checkpoints((fs::path(run_dir) / "checkpoints").string());
  std::string failures;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      CheckpointState s = load_checkpoint(*it);
      if (!failures.empty()) log << "resuming from " << *it << ", the newest checkpoint that loads\n";
      return std::make_pair(*it, std::move(s));
    } catch (const Error& e) {
      log << "warning: skipping a checkpoint that cannot be loaded: " << e.what() << "\n";
      failures += std::string(failures.empty() ? "" : "; ") + e.what();
    }
  }
  if (!all.empty()) throw Error("--resume " + run_dir + ": none of its checkpoints can be loaded: " + failures);
  return std::nullopt;
}

// Raising (or lowering) train.steps on resume changes a schedule that decays over the whole
// run: the learning rate from the resumed step on is not what the original run would have
// used. Allowed (it is how a run is extended), but said.
void warn_if_schedule_stretched(const Config& now, const std::string& saved_yaml, int64_t step, std::ostream& log) {
  Config saved = parse_saved_config(saved_yaml, "the checkpoint's config");
  if (saved.train.steps == now.train.steps) return;
  const double before = lr_at(saved, step), after = lr_at(now, step);
  log << "note: train.steps is now " << now.train.steps << " (the run was started with " << saved.train.steps
      << ")";
  if (now.optim.schedule.kind == "warmup_cosine")
    log << "; the warmup_cosine schedule now decays over " << now.train.steps << " steps, so the learning rate at step "
        << step << " is " << after << " instead of " << before;
  log << "\n";
}

struct Evaluation {
  json record;
  double main_loss = 0;
};

// With `par`, every rank evaluates its part of each batch; the loss is the mean over
// ranks, the routing (and so specialisation) the whole batch's.
Evaluation evaluate(TrainModel& model, const Task& task, const Config& cfg, int64_t step, ParallelRun* par = nullptr) {
  NoGradGuard no_grad;
  model.eval();
  Generator eval_gen(stream_seed(cfg.seed, kEvalStream));
  const moe::GatingCall call = routing_call(cfg, eval_gen);
  double main = 0;
  std::vector<std::vector<int64_t>> first_choice;  // per layer
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < cfg.train.eval_batches; ++i) {
    Batch b = task.eval_batch(i, cfg.train.batch_size);
    ModelOutput out = par ? model.forward(par->own_part(b), par->split_call(call, b)) : model.forward(b, call);
    main += par ? par->mean(out.main_loss.item<double>()) : out.main_loss.item<double>();
    if (b.labels.defined()) {
      std::vector<int64_t> l = b.labels.to_vector<int64_t>();
      labels.insert(labels.end(), l.begin(), l.end());
      first_choice.resize(out.layers.size());
      for (size_t j = 0; j < out.layers.size(); ++j) {
        std::vector<int64_t> e =
            core::reshape(out.layers[j].routing.first_choice(), {-1}).to_vector<int64_t>();
        first_choice[j].insert(first_choice[j].end(), e.begin(), e.end());
      }
    }
  }
  model.train();
  Evaluation ev;
  ev.main_loss = main / static_cast<double>(cfg.train.eval_batches);
  ev.record = {{"kind", "eval"}, {"step", step}, {"loss", ev.main_loss}, {"main_loss", ev.main_loss}};
  task.add_eval_metrics(ev.record, ev.main_loss);
  if (!first_choice.empty()) {
    json per_layer = json::array();
    double mean = 0;
    for (const auto& experts : first_choice) {
      const double s = specialisation(labels, experts, cfg.data.num_clusters, cfg.model.moe_block.moe.num_experts);
      per_layer.push_back(s);
      mean += s / static_cast<double>(first_choice.size());
    }
    ev.record["specialisation"] = mean;
    ev.record["specialisation_per_layer"] = per_layer;
  }
  return ev;
}

std::string fmt_num(double v, int precision = 5) {
  std::ostringstream os;
  os.precision(precision);
  os << std::fixed << v;
  return os.str();
}

// The config a run trains: the file given or, resuming a run (its folder or one of its
// checkpoints) without one, the run's own saved config.yaml.
std::string config_of(const TrainArgs& args) {
  if (!args.config_path.empty()) return args.config_path;
  if (args.resume.empty())
    throw ConfigFileError("config", "config", "a YAML config file is needed (or --resume a run, which has its own)");
  std::error_code ec;
  fs::path run;
  if (fs::is_directory(args.resume, ec)) {
    const fs::path p = fs::path(args.resume).lexically_normal();
    run = p.filename().empty() ? p.parent_path() : p;
    if (run.filename() == "checkpoints" && !fs::exists(run / "config.yaml")) run = run.parent_path();
  } else if (std::optional<std::string> owner = run_of_checkpoint(args.resume)) {
    run = *owner;
  }
  if (run.empty() || !fs::exists(run / "config.yaml"))
    throw ConfigFileError("--resume " + args.resume, "config",
                          "not in a run folder with its config.yaml; give the config file too");
  return (run / "config.yaml").string();
}

// Where a run writes, what it starts from, and the lock that keeps its folder.
struct RunStart {
  Start how = Start::fresh;
  std::string run_dir;      // empty until taken: a new default folder
  std::string resume_from;  // the checkpoint, if any
  std::optional<CheckpointState> state;
  std::unique_ptr<RunLock> lock;
};

// Decides from --out and --resume where the run goes; loads a loose checkpoint. Writes
// nothing.
RunStart plan_start(const TrainArgs& args, const Config& cfg) {
  RunStart r;
  r.run_dir = args.out_dir;
  if (!args.resume.empty()) {
    std::error_code ec;
    if (fs::is_directory(args.resume, ec)) {
      r.how = Start::in_place;
      r.run_dir = args.resume;
      // <run>/checkpoints given for <run>.
      const fs::path p = fs::path(args.resume).lexically_normal();
      const fs::path folder = p.filename().empty() ? p.parent_path() : p;
      if (folder.filename() == "checkpoints" && fs::exists(folder.parent_path() / "config.yaml"))
        r.run_dir = folder.parent_path().empty() ? "." : folder.parent_path().string();
      const FolderState st = inspect_run_folder(r.run_dir);
      if (st.kind == FolderKind::foreign && !fs::exists(fs::path(r.run_dir) / "config.yaml"))
        throw ConfigFileError("--resume " + args.resume, "resume",
                              "not a moegrad run folder: no config.yaml, and it holds " + st.foreign_entry);
    } else if (!fs::exists(args.resume, ec)) {
      throw ConfigFileError("--resume " + args.resume, "resume", "no such run folder or checkpoint");
    } else if (std::optional<std::string> owner = run_of_checkpoint(args.resume)) {
      r.how = Start::in_place;
      r.run_dir = *owner;
      r.resume_from = args.resume;
    } else {
      r.how = Start::loose;
      r.resume_from = args.resume;
      r.state = load_checkpoint(r.resume_from);
      check_same_run(cfg, r.state->config_yaml, r.resume_from, "--resume " + r.resume_from,
                     "the checkpoint's saved config");
    }
    if (r.how == Start::in_place && !args.out_dir.empty() && !same_folder(args.out_dir, r.run_dir))
      throw ConfigFileError("--out " + args.out_dir, "out", "a resumed run continues in its own folder " + r.run_dir);
  }
  if (r.how != Start::in_place && !r.run_dir.empty()) check_new_folder(r.run_dir, /*locked=*/false);
  return r;
}

// Creates and locks the run folder, checks it again under the lock (another run may have
// written into it since), and for a run continued in place picks its checkpoint.
void take_folder(RunStart& r, const TrainArgs& args, const Config& cfg, std::ostream& log) {
  if (r.how == Start::in_place) {
    r.lock = std::make_unique<RunLock>(r.run_dir, "--resume " + args.resume, "resume");
    if (!r.resume_from.empty()) {
      r.state = load_checkpoint(r.resume_from);
    } else if (auto newest = newest_loadable(r.run_dir, log)) {
      r.resume_from = newest->first;
      r.state = std::move(newest->second);
    } else {
      log << "the run folder " << r.run_dir << " holds no checkpoint: starting it from step 0\n";
      const fs::path saved = fs::path(r.run_dir) / "config.yaml";
      if (fs::exists(saved))
        check_same_run(cfg, nn::read_file(saved.string(), kMaxConfigFileBytes), saved.string(),
                       "--resume " + r.run_dir, "the run's saved config");
    }
    if (r.state)
      check_same_run(cfg, r.state->config_yaml, r.resume_from, "--resume " + r.resume_from, "the run's saved config");
    return;
  }
  if (r.run_dir.empty()) r.run_dir = create_new_folder(default_run_dir(args.config_path));
  fs::create_directories(r.run_dir);
  r.lock = std::make_unique<RunLock>(r.run_dir, "--out " + r.run_dir, "out");
  check_new_folder(r.run_dir, /*locked=*/true);
}

// A checkpoint already at (or past) train.steps: said, and nothing is written.
bool already_done(const RunStart& r, const Config& cfg, std::ostream& log) {
  if (!r.state || r.state->step < cfg.train.steps) return false;
  log << "nothing to do: " << (r.how == Start::in_place ? "the run " + r.run_dir + " already finished"
                                                          : "the checkpoint " + r.resume_from + " is")
      << " at step " << r.state->step << " (train.steps is " << cfg.train.steps
      << "); raise train.steps to train further\n";
  return true;
}

}  // namespace

TrainSummary run_training(const TrainArgs& given, std::ostream& leader_log) {
  // Installed first, so that a Ctrl-C during the setup is noticed too.
  InterruptGuard interrupt;
  TrainArgs args = given;
  args.config_path = config_of(given);
  // Everything that can be wrong with the configuration is found before anything is written.
  Config cfg = load_config(args.config_path, args.overrides, {.force = args.force});
  // Under mpirun every rank runs this; rank 0 alone writes and prints.
  ParallelRun par(cfg, args.config_path);
  std::ostream quiet(nullptr);
  std::ostream& log = par.leader() ? leader_log : quiet;
  if (par.distributed() && cfg.device != "cpu")
    throw ConfigFileError(args.config_path, "device",
                          "training under mpirun runs on the cpu for now (the NCCL communicator is not wired into "
                          "the trainer); got " + cfg.device);
  if (par.distributed() && !args.dump_grads.steps.empty())
    throw ConfigFileError("--dump-grads", "dump-grads", "is for one process; run it without mpirun");
  RunStart begin = plan_start(args, cfg);
  TrainSummary summary;
  summary.nothing_to_do = already_done(begin, cfg, log);
  if (summary.nothing_to_do) return summary;
  const DType dtype = DType::f32;
  std::unique_ptr<Task> task = make_task(cfg, dtype);
  if (interrupt.signal())
    throw Interrupted(interrupt.signal(), "interrupted by " + signal_name(interrupt.signal()) +
                                              " before training started; nothing was written");
  if (par.leader()) take_folder(begin, args, cfg, log);
  // The other ranks continue from the checkpoint rank 0 picked (a failure on rank 0 ends
  // the job: moegrad's main aborts every rank).
  if (par.distributed()) {
    begin.run_dir = par.broadcast(begin.run_dir);
    const std::string picked = par.broadcast(begin.resume_from);
    if (!par.leader() && !picked.empty() && (picked != begin.resume_from || !begin.state))
      begin.state = load_checkpoint(picked);
    begin.resume_from = picked;
  }
  const std::string& run_dir = begin.run_dir;
  const std::string& resume_from = begin.resume_from;
  const bool have_state = begin.state.has_value();
  summary.nothing_to_do = already_done(begin, cfg, log);
  if (summary.nothing_to_do) return summary;
  if (have_state && begin.state->vocab != task->vocabulary())
    throw ConfigFileError("--resume", "data", "the data's vocabulary differs from the checkpoint's");
  Generator init_gen(stream_seed(cfg.seed, kInitStream));
  std::unique_ptr<TrainModel> model = make_model(cfg, task->vocab_size(), init_gen, dtype);
  // The whole model first (a checkpoint holds the whole), then this rank's experts.
  if (have_state) model->load_state_dict(begin.state->model, /*strict=*/true);
  const int64_t whole_parameters = model->num_parameters(), active_parameters = model->active_parameters();
  par.place_experts(*model);
  std::unique_ptr<nn::Optimizer> optimizer = find_optimizer(cfg.optim.name).build(model->named_parameters(), cfg);
  Generator train_gen(stream_seed(cfg.seed, kTrainStream)), data_gen(stream_seed(cfg.seed, kDataStream));
  int64_t start = 0;
  if (have_state) {
    const CheckpointState& resumed = *begin.state;
    optimizer->load_state_dict(ParallelRun::held_part(resumed.optimizer, model->named_parameters()));
    train_gen.set_state(resumed.train_rng);
    data_gen.set_state(resumed.data_rng);
    start = resumed.step;
  }
  const std::string resumed_yaml = have_state ? begin.state->config_yaml : "";
  begin.state.reset();  // its tensors now live in the model and the optimizer

  const std::vector<std::string> leftovers = par.leader() ? clean_leftovers(run_dir) : std::vector<std::string>{};
  const std::string config_yaml = to_yaml(cfg);
  summary.run_dir = run_dir;
  summary.config_file = (fs::path(run_dir) / "config.yaml").string();
  summary.checkpoint_dir = (fs::path(run_dir) / "checkpoints").string();
  summary.leader = par.leader();
  std::optional<MetricsLog> metrics;
  if (par.leader()) {
    nn::write_file_atomic(summary.config_file, config_yaml);
    if (begin.how != Start::in_place) {
      // A reused folder's metrics are from a run that is being replaced.
      std::error_code ec;
      fs::remove(fs::path(run_dir) / "metrics.jsonl", ec);
      fs::remove(fs::path(run_dir) / "metrics.csv", ec);
    }
    metrics.emplace(run_dir, start);
    summary.metrics_jsonl = metrics->jsonl_path();
    summary.metrics_csv = metrics->csv_path();
  }

  log << "moegrad train: " << cfg.model.kind << " on " << cfg.data.task << ", "
      << whole_parameters << " parameters (" << active_parameters << " active per token), "
      << cfg.train.steps << " steps\n";
  if (par.distributed())
    log << par.size() << " ranks: data parallel over " << par.size() << ", experts spread over "
        << cfg.parallel.expert << " (this rank holds " << model->num_parameters() << " parameters)\n";
  log << "run folder: " << run_dir << (start > 0 ? " (resumed at step " + std::to_string(start) + ")" : "") << "\n";
  if (begin.how == Start::loose)
    log << "the checkpoint " << resume_from << " is not inside a run folder: it is continued in this new one\n";
  for (const std::string& f : leftovers) log << "removed " << f << ", left over by an interrupted run\n";
  if (have_state) warn_if_schedule_stretched(cfg, resumed_yaml, start, log);
  log << std::flush;

  Progress progress(cfg.train.steps, args.interactive, log, terminal_columns);
  const moe::GatingCall call = routing_call(cfg, train_gen);
  const nn::NamedTensors named_params = model->named_parameters();
  const TensorList params = model->parameters();
  // The newest checkpoint whose parameters are known to give finite losses: the one
  // resumed from, or one this run saved after checking them.
  std::string last_good = resume_from;
  int64_t saved_step = start;
  auto stop = [&](int64_t step, const std::string& what) {
    const std::string good =
        last_good.empty() ? "There is no good checkpoint yet: the folder can be reused with --out " + run_dir
                          : "The last good checkpoint is " + last_good;
    progress.finish();
    return NumericalError("step " + std::to_string(step) + ": " + what + "; stopping. " + good);
  };
  // A checkpoint is saved only once a forward on its parameters gives finite losses: the
  // next training batch, drawn with copies of the generators so the run's streams stay
  // where they are (a resumed run starts with that very forward).
  auto save = [&](int64_t step) {
    NoGradGuard no_grad;
    Generator next_train, next_data;
    next_train.set_state(train_gen.state());
    next_data.set_state(data_gen.state());
    moe::GatingCall next_call = call;
    next_call.gen = &next_train;
    const Batch whole = task->train_batch(cfg.train.batch_size, next_data);
    ModelOutput next = model->forward(par.own_part(whole), par.split_call(next_call, whole));
    if (auto bad = par.agreed_problem(StepScalars::read(next).non_finite_terms(), "on another rank"))
      throw stop(step, "the parameters after this step give a non-finite loss on the next batch (" + *bad + ")" +
                           largest_parameter(named_params) + ", so they are not saved");
    // One file, as one process writes it: rank 0 gathers every rank's experts.
    CheckpointState s{step, par.gather(model->state_dict()), par.gather(optimizer->state_dict()), train_gen.state(),
                      data_gen.state(), config_yaml, task->vocabulary()};
    if (par.leader()) save_checkpoint(summary.checkpoint_dir, s);
    last_good = summary.last_checkpoint = checkpoint_path(summary.checkpoint_dir, step);
    saved_step = step;
    if (par.leader()) prune_checkpoints(summary.checkpoint_dir, cfg.train.keep_last, last_good);
  };
  bool stdout_lost = false;
  auto watch_stdout = [&] {
    // A closed pipe (moegrad train ... | head) must not end the run: the stream stops
    // writing once it fails, and the run goes on into its folder.
    if (stdout_lost || log || !par.leader()) return;
    stdout_lost = true;
    std::cerr << "moegrad: the standard output cannot be written any more; training goes on, "
                 "its metrics and checkpoints are in " << run_dir << "\n" << std::flush;
  };
  auto on_interrupt = [&](int64_t done) {
    // Decided together: a rank that stopped alone would leave the others in a collective.
    int sig = interrupt.signal();
    if (!par.any(sig != 0) || done == cfg.train.steps) return;  // at the end there is nothing left to stop
    if (!sig) sig = SIGTERM;  // signalled on another rank
    const bool saving = done > saved_step;
    if (saving) save(done);
    progress.finish();
    std::string how_to = "moegrad train " + (given.config_path.empty() ? "" : given.config_path + " ") + "--resume " + run_dir;
    if (!args.overrides.empty()) how_to += " (with the same --set options)";
    std::string what = "interrupted by " + signal_name(sig) + " after step " + std::to_string(done) + " of " +
                       std::to_string(cfg.train.steps) + "; ";
    if (last_good.empty()) what += "no checkpoint yet; start it again from step 0 with: ";
    else what += (saving ? "saved the checkpoint " : "its newest checkpoint is ") + last_good + "; resume with: ";
    throw Interrupted(sig, what + how_to);
  };
  on_interrupt(start);

  double window_time = 0;
  int64_t window_tokens = 0;
  for (int64_t step = start; step < cfg.train.steps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    const double lr = lr_at(cfg, step);
    optimizer->set_lr(lr);
    Batch batch = task->train_batch(cfg.train.batch_size, data_gen);
    ModelOutput out = model->forward(par.own_part(batch), par.split_call(call, batch));
    const int64_t done = step + 1;
    Tensor loss = out.aux_loss.defined() ? out.main_loss + out.aux_loss : out.main_loss;
    StepScalars scalars = StepScalars::read(out, loss);
    if (args.fault.nan_loss_at == done && args.fault.rank == par.rank()) scalars.main_loss = std::nan("");
    if (auto bad = par.agreed_problem(scalars.non_finite_terms(), "another rank's loss is not finite"))
      throw stop(done, *bad + largest_parameter(named_params));
    // The whole batch's: the mean of the ranks' means over their equal parts (the aux
    // losses are the whole batch's on every rank already).
    scalars.loss = par.mean(scalars.loss);
    scalars.main_loss = par.mean(scalars.main_loss);
    const bool dumping = args.dump_grads.at(done);
    if (dumping) retain_dumped(out);
    backward(loss);
    // Before clipping, which scales the gradients in place.
    if (dumping) write_grad_dump(args.dump_grads, done, batch, out, *model, to_yaml(cfg));
    const double max_norm = cfg.optim.clip_norm > 0 ? cfg.optim.clip_norm : 1e300;
    par.reduce_gradients(named_params);
    const double grad_norm =
        par.distributed() ? par.clip_gradients(named_params, max_norm) : nn::clip_grad_norm_(params, max_norm);
    if (!std::isfinite(grad_norm)) {
      auto bad = first_non_finite(named_params, /*grads=*/true);
      throw stop(done, bad ? "the gradient of '" + bad->first + "' holds " + bad->second + " (the losses were finite)"
                           : "the gradient norm is not finite (the losses were finite)");
    }
    optimizer->step();
    optimizer->zero_grad();
    model->notify_optimizer_step();  // DeepSeek-V3's expert bias moves here
    const auto bad_param = first_non_finite(named_params, /*grads=*/false);
    if (auto bad = par.agreed_problem(bad_param ? "parameter '" + bad_param->first + "' " + bad_param->second : "",
                                      "a parameter of another rank not finite"))
      throw stop(done, "the optimizer step made " + *bad + " from finite gradients (check optim.lr and optim.eps)");
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    window_time += dt;
    window_tokens += batch.tokens;
    const double loss_value = scalars.loss;
    summary.final_train_loss = loss_value;
    summary.final_train_main_loss = scalars.main_loss;
    progress.step(done, loss_value, scalars.main_loss, static_cast<double>(batch.tokens) / std::max(dt, 1e-9));
    if (done % cfg.train.log_interval == 0 || done == cfg.train.steps) {
      const double tok_s = static_cast<double>(window_tokens) / std::max(window_time, 1e-9);
      window_time = 0;
      window_tokens = 0;
      json rec = {{"kind", "train"},
                  {"step", done},
                  {"loss", loss_value},
                  {"main_loss", scalars.main_loss},
                  {"aux_loss", scalars.aux_loss},
                  {"balance_loss", scalars.sum(scalars.balance_loss)},
                  {"router_z_loss", scalars.sum(scalars.router_z_loss)},
                  {"lr", lr},
                  {"grad_norm", grad_norm},
                  {"tokens_per_s", tok_s}};
      if (!out.layers.empty()) {
        json layers = json::array();
        double dropped = 0, entropy = 0;
        for (const auto& l : out.layers) {
          LayerRoutingStats stats;
          stats.add(l.routing);
          dropped += stats.dropped_fraction() / static_cast<double>(out.layers.size());
          entropy += stats.routing_entropy() / static_cast<double>(out.layers.size());
          layers.push_back(stats.to_json());
        }
        rec["dropped_fraction"] = dropped;
        rec["routing_entropy"] = entropy;
        rec["layers"] = layers;
      }
      if (metrics) metrics->write(rec);
      par.check_replicas(named_params, "step " + std::to_string(done));
      if (!progress.interactive())
        progress.line("step " + std::to_string(done) + "/" + std::to_string(cfg.train.steps) + "  loss " +
                      fmt_num(loss_value) + "  main " + fmt_num(rec["main_loss"].get<double>()) + "  lr " +
                      fmt_num(lr, 6) + "  " + fmt_num(tok_s, 0) + " tok/s");
    }
    if (done % cfg.train.eval_interval == 0 || done == cfg.train.steps) {
      Evaluation ev = evaluate(*model, *task, cfg, done, &par);
      if (!std::isfinite(ev.main_loss))
        throw stop(done, "the eval loss is " + std::string(std::isnan(ev.main_loss) ? "NaN" : "Inf") +
                             largest_parameter(named_params));
      if (metrics) metrics->write(ev.record);
      summary.final_eval = ev.record;
      std::string line = "eval step " + std::to_string(done) + "  loss " + fmt_num(ev.main_loss);
      if (ev.record.contains("specialisation"))
        line += "  specialisation " + fmt_num(ev.record["specialisation"].get<double>(), 3);
      if (ev.record.contains("bits_per_char"))
        line += "  bits/char " + fmt_num(ev.record["bits_per_char"].get<double>(), 3);
      progress.line(line);
    }
    if (done % cfg.train.checkpoint_interval == 0 || done == cfg.train.steps) save(done);
    watch_stdout();
    on_interrupt(done);
  }
  progress.finish();
  summary.steps = cfg.train.steps;
  if (summary.last_checkpoint.empty()) summary.last_checkpoint = resume_from;
  return summary;
}

namespace {
// weights_config with the saved config named as `whose` in a difference.
Config resolve_weights_config(const std::string& config_path, const std::vector<std::string>& overrides,
                              const ModelWeights& w, const std::string& source, const std::string& option,
                              const std::string& whose, const LoadOptions& load = {}) {
  if (config_path.empty()) {
    if (w.config_yaml.empty())
      throw ConfigFileError(option, "config",
                            source + " records no config (a state dict saved elsewhere, e.g. by PyTorch): give the "
                                     "YAML config of the model as well");
    // The file's own config, on the cpu unless --device (a later override) says else:
    // where it was trained does not matter.
    std::vector<std::string> o = {"device=cpu"};
    o.insert(o.end(), overrides.begin(), overrides.end());
    return parse_config(w.config_yaml, source + " (embedded config)", o, load);
  }
  Config cfg = load_config(config_path, overrides, load);
  if (!w.config_yaml.empty()) check_same_run(cfg, w.config_yaml, source, option, whose, Purpose::evaluate);
  return cfg;
}

constexpr const char* kCheckpointConfig = "the checkpoint's saved config";
constexpr const char* kWeightsConfig = "the config saved with the weights";
}  // namespace

Config weights_config(const std::string& config_path, const std::vector<std::string>& overrides,
                      const ModelWeights& w, const std::string& source, const std::string& option) {
  return resolve_weights_config(config_path, overrides, w, source, option,
                                option.rfind("--checkpoint", 0) == 0 ? kCheckpointConfig : kWeightsConfig);
}

namespace {
// A model of `cfg` holding the weights `w` (named by `option` in errors), with its task's data.
struct LoadedModel {
  std::unique_ptr<Task> task;
  std::unique_ptr<TrainModel> model;
};

LoadedModel load_model(const Config& cfg, const ModelWeights& w, const std::string& option) {
  LoadedModel m;
  m.task = make_task(cfg, DType::f32);
  if (!w.vocab.empty() && w.vocab != m.task->vocabulary())
    throw ConfigFileError(option, "data", "the data's vocabulary differs from the one saved with the weights");
  Generator init_gen(stream_seed(cfg.seed, kInitStream));
  m.model = make_model(cfg, m.task->vocab_size(), init_gen, DType::f32);
  m.model->load_state_dict(w.model, /*strict=*/true);
  return m;
}

json evaluate_weights(const std::string& config_path, const std::vector<std::string>& overrides,
                      const ModelWeights& w, const std::string& source, const std::string& option,
                      const std::string& dump) {
  const Config cfg = weights_config(config_path, overrides, w, source, option);
  const LoadedModel loaded = load_model(cfg, w, option);
  TrainModel& model = *loaded.model;
  Evaluation ev = evaluate(model, *loaded.task, cfg, std::max<int64_t>(w.step, 0));
  if (!std::isfinite(ev.main_loss))
    throw NumericalError(source + ": its weights give a " + (std::isnan(ev.main_loss) ? "NaN" : "Inf") +
                         " eval loss" + largest_parameter(model.named_parameters()));
  if (w.step < 0) ev.record.erase("step");  // a state dict from elsewhere does not say
  if (!dump.empty()) {
    dump_eval_batch(model, *loaded.task, cfg, dump);
    ev.record["dump"] = dump;
  }
  return ev.record;
}
}  // namespace

void dump_eval_batch(TrainModel& model, const Task& task, const Config& cfg, const std::string& path) {
  NoGradGuard no_grad;
  model.eval();
  const Batch b = task.eval_batch(0, cfg.train.batch_size);
  Generator gen(stream_seed(cfg.seed, kEvalStream));
  moe::GatingCall call;
  // Given, not drawn per layer, so that the other implementation can be handed the same.
  call.route_uniforms = rand({cfg.model.moe_block.moe.top_n, b.inputs.size(0), b.inputs.size(1)}, gen,
                                   DType::f32, b.inputs.backend());
  const ModelOutput out = model.forward(b, call);
  model.train();
  nn::StateDict dump;
  dump.set("inputs", core::to(b.inputs, Device::cpu()));
  dump.set("targets", core::to(b.targets, Device::cpu()));
  dump.set("route_uniforms", core::to(call.route_uniforms, Device::cpu()));
  dump.set("prediction", core::to(out.prediction, Device::cpu()));
  dump.set("main_loss", core::to(core::reshape(core::to(out.main_loss, DType::f64), {1}), Device::cpu()));
  nn::save_safetensors(path, dump, {{kWeightsConfigKey, to_yaml(cfg)}});
}

json evaluate_checkpoint(const std::string& config_path, const std::vector<std::string>& overrides,
                         const std::string& checkpoint, const std::string& dump) {
  json rec = evaluate_weights(config_path, overrides, checkpoint_weights(checkpoint), checkpoint,
                              "--checkpoint " + checkpoint, dump);
  rec["checkpoint"] = checkpoint;
  return rec;
}

json evaluate_weights_file(const std::string& config_path, const std::vector<std::string>& overrides,
                           const std::string& weights, const std::string& dump) {
  json rec = evaluate_weights(config_path, overrides, load_weights(weights), weights, "--weights " + weights, dump);
  rec["weights"] = weights;
  return rec;
}

RoutingReport inspect_routing(const InspectArgs& args) {
  const bool from_checkpoint = args.weights.empty();
  const std::string& source = from_checkpoint ? args.checkpoint : args.weights;
  // The checkpoint is inspect's argument, not an option: errors name it alone.
  const std::string option = from_checkpoint ? source : "--weights " + source;
  const ModelWeights w = from_checkpoint ? checkpoint_weights(source) : load_weights(source);
  const Config cfg = resolve_weights_config(args.config_path, args.overrides, w, source, option,
                                            from_checkpoint ? kCheckpointConfig : kWeightsConfig,
                                            {.force = args.force});
  if (!find_model_kind(cfg.model.kind).moe)
    throw ConfigFileError(option, "model.kind", cfg.model.kind + " has no MoE layers: there is no routing to inspect");
  const LoadedModel loaded = load_model(cfg, w, option);
  RoutingReport report;
  report.source = source;
  report.step = w.step;
  report.train_routing = args.train_routing;
  report.batches = args.batches > 0 ? args.batches : cfg.train.eval_batches;

  NoGradGuard no_grad;
  // Training routing: capacity_factor_train and threshold_train, which a module in training
  // mode uses; without gradients nothing is learned.
  if (args.train_routing) loaded.model->train();
  else loaded.model->eval();
  // The draws evaluate() makes, so that eval routing here is the routing behind eval's numbers.
  Generator gen(stream_seed(cfg.seed, kEvalStream));
  const moe::GatingCall call = routing_call(cfg, gen);
  for (int64_t i = 0; i < report.batches; ++i) {
    const Batch b = loaded.task->eval_batch(i, cfg.train.batch_size);
    const ModelOutput out = loaded.model->forward(b, call);
    report.layers.resize(out.layers.size());
    for (size_t j = 0; j < out.layers.size(); ++j)
      report.layers[j].add(out.layers[j].routing, b.labels, cfg.data.num_clusters);
  }
  return report;
}

}  // namespace moegrad::train
