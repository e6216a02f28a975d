#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <sstream>

#include "autograd/autograd.h"
#include "core/core.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/sgd.h"
#include "nn/safetensors.h"
#include "train/checkpoint.h"
#include "train/cluster_task.h"
#include "train/config.h"
#include "train/metrics.h"
#include "train/model.h"
#include "train/task.h"

namespace moegrad::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Separate streams, so that evaluation or a change in the data never shifts the routing
// draws of training (and the other way round).
uint64_t stream_seed(uint64_t seed, uint64_t stream) { return seed * 0x9e3779b97f4a7c15ULL + stream; }
constexpr uint64_t kInitStream = 1, kTrainStream = 2, kDataStream = 3, kEvalStream = 4;

std::unique_ptr<nn::Optimizer> make_optimizer(const OptimConfig& o, const nn::NamedTensors& params) {
  switch (o.name) {
    case OptimizerKind::sgd:
      return std::make_unique<nn::SGD>(params, nn::SGDOptions{.lr = o.lr, .momentum = o.momentum,
                                                              .weight_decay = o.weight_decay,
                                                              .nesterov = o.nesterov});
    case OptimizerKind::adam:
    case OptimizerKind::adamw: {
      nn::AdamOptions a{.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay};
      if (o.name == OptimizerKind::adam) return std::make_unique<nn::Adam>(params, a);
      return std::make_unique<nn::AdamW>(params, a);
    }
  }
  throw Error("unknown optimizer");
}

double routing_entropy(const moe::Routing& r) {
  Tensor p = detach(r.raw_gates);
  Tensor plogp = core::binary(BinaryOp::mul, p, core::unary(UnaryOp::log, core::clamp(p, 1e-30, 1.0)));
  const double tokens = static_cast<double>(p.numel() / p.size(-1));
  return -core::sum(plogp).item<double>() / tokens;
}

double scalar_sum(const std::vector<LayerRouting>& layers, bool balance) {
  double s = 0;
  for (const auto& l : layers) s += core::sum(balance ? l.balance_loss : l.router_z_loss).item<double>();
  return s;
}

// Names the first loss term that is not finite, with its value, or "".
std::string non_finite_term(const ModelOutput& out) {
  auto bad = [](const std::string& name, double v) {
    if (std::isfinite(v)) return std::string();
    return name + " is " + (std::isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
  };
  if (auto b = bad("the main loss", out.main_loss.item<double>()); !b.empty()) return b;
  for (size_t i = 0; i < out.layers.size(); ++i) {
    const std::string layer = " of MoE layer " + std::to_string(i);
    if (auto b = bad("balance_loss" + layer, core::sum(out.layers[i].balance_loss).item<double>()); !b.empty())
      return b;
    if (auto b = bad("router_z_loss" + layer, core::sum(out.layers[i].router_z_loss).item<double>()); !b.empty())
      return b;
  }
  return "";
}

std::string default_run_dir(const std::string& config_path) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
  std::string base = (fs::path("runs") / (fs::path(config_path).stem().string() + "-" + stamp)).string();
  std::string dir = base;
  for (int i = 2; fs::exists(dir); ++i) dir = base + "-" + std::to_string(i);
  return dir;
}

// A run being resumed: its folder and the checkpoint to start from.
std::pair<std::string, std::string> locate_resume(const std::string& given) {
  if (fs::is_directory(given)) {
    const std::string ckpt_dir = (fs::path(given) / "checkpoints").string();
    std::vector<std::string> all = list_checkpoints(ckpt_dir);
    if (all.empty()) throw ConfigFileError("--resume " + given, "resume", "the folder holds no complete checkpoint");
    return {given, all.back()};
  }
  if (!fs::exists(given)) throw ConfigFileError("--resume " + given, "resume", "no such run folder or checkpoint");
  fs::path p = fs::absolute(given);
  return {p.parent_path().parent_path().string(), p.string()};
}

// The config a run was started with must still describe the same model, data and
// optimizer; only the train section (steps, intervals) may change on resume.
void check_same_run(const Config& now, const std::string& saved_yaml, const std::string& where) {
  Config saved = parse_config(saved_yaml, where);
  Config a = now, b = saved;
  a.train = b.train = LoopConfig{};
  a.optim.schedule.total_steps = b.optim.schedule.total_steps = 0;
  const std::string ya = to_yaml(a), yb = to_yaml(b);
  if (ya == yb) return;
  std::istringstream sa(ya), sb(yb);
  std::string la, lb;
  while (std::getline(sa, la) && std::getline(sb, lb))
    if (la != lb) break;
  throw ConfigFileError("--resume", "config",
                        "differs from the run's saved config: now '" + la + "', the run has '" + lb + "'");
}

struct Evaluation {
  json record;
  double main_loss = 0;
};

Evaluation evaluate(TrainModel& model, const Task& task, const Config& cfg, int64_t step) {
  NoGradGuard no_grad;
  model.eval();
  Generator eval_gen(stream_seed(cfg.seed, kEvalStream));
  moe::GatingCall call;
  call.gen = &eval_gen;
  call.noise_gates = cfg.model.noise_gates;
  call.noise_mult = cfg.model.noise_mult;
  double main = 0;
  std::vector<std::vector<int64_t>> first_choice;  // per layer
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < cfg.train.eval_batches; ++i) {
    Batch b = task.eval_batch(i, cfg.train.batch_size);
    ModelOutput out = model.forward(b, call);
    main += out.main_loss.item<double>();
    if (b.labels.defined()) {
      std::vector<int64_t> l = b.labels.to_vector<int64_t>();
      labels.insert(labels.end(), l.begin(), l.end());
      first_choice.resize(out.layers.size());
      for (size_t j = 0; j < out.layers.size(); ++j) {
        std::vector<int64_t> e =
            core::reshape(core::narrow(out.layers[j].routing.indices, 0, 0, 1), {-1}).to_vector<int64_t>();
        first_choice[j].insert(first_choice[j].end(), e.begin(), e.end());
      }
    }
  }
  model.train();
  Evaluation ev;
  ev.main_loss = main / static_cast<double>(cfg.train.eval_batches);
  ev.record = {{"kind", "eval"}, {"step", step}, {"loss", ev.main_loss}, {"main_loss", ev.main_loss}};
  if (cfg.data.task == TaskKind::char_lm) ev.record["bits_per_char"] = ev.main_loss / std::log(2.0);
  if (!first_choice.empty()) {
    json per_layer = json::array();
    double mean = 0;
    for (const auto& experts : first_choice) {
      const double s = specialisation(labels, experts, cfg.data.num_clusters, cfg.model.num_experts);
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

}  // namespace

TrainSummary run_training(const TrainArgs& args, std::ostream& log) {
  // Everything that can be wrong with the configuration is found before anything is written.
  Config cfg = load_config(args.config_path, args.overrides);
  std::string run_dir, resume_from;
  CheckpointState resumed;
  if (!args.resume.empty()) {
    std::tie(run_dir, resume_from) = locate_resume(args.resume);
    resumed = load_checkpoint(resume_from);
    check_same_run(cfg, resumed.config_yaml, resume_from);
    if (!args.out_dir.empty() && fs::weakly_canonical(args.out_dir) != fs::weakly_canonical(run_dir))
      throw ConfigFileError("--out " + args.out_dir, "out", "a resumed run continues in its own folder " + run_dir);
  } else {
    run_dir = args.out_dir.empty() ? default_run_dir(args.config_path) : args.out_dir;
    if (fs::exists(run_dir) && !fs::is_empty(run_dir))
      throw ConfigFileError("--out " + run_dir, "out",
                            "already holds files; resume it with --resume " + run_dir + " or choose a new folder");
  }
  const DType dtype = DType::f32;
  std::unique_ptr<Task> task = make_task(cfg, dtype);
  if (!resume_from.empty() && resumed.vocab != task->vocabulary())
    throw ConfigFileError("--resume", "data", "the data's vocabulary differs from the checkpoint's");
  Generator init_gen(stream_seed(cfg.seed, kInitStream));
  std::unique_ptr<TrainModel> model = make_model(cfg, task->vocab_size(), init_gen, dtype);
  std::unique_ptr<nn::Optimizer> optimizer = make_optimizer(cfg.optim, model->named_parameters());
  Generator train_gen(stream_seed(cfg.seed, kTrainStream)), data_gen(stream_seed(cfg.seed, kDataStream));
  int64_t start = 0;
  if (!resume_from.empty()) {
    model->load_state_dict(resumed.model, /*strict=*/true);
    optimizer->load_state_dict(resumed.optimizer);
    train_gen.set_state(resumed.train_rng);
    data_gen.set_state(resumed.data_rng);
    start = resumed.step;
  }

  fs::create_directories(run_dir);
  const std::string config_yaml = to_yaml(cfg);
  TrainSummary summary;
  summary.run_dir = run_dir;
  summary.config_file = (fs::path(run_dir) / "config.yaml").string();
  summary.checkpoint_dir = (fs::path(run_dir) / "checkpoints").string();
  nn::write_file_atomic(summary.config_file, config_yaml);
  MetricsLog metrics(run_dir, start);
  summary.metrics_jsonl = metrics.jsonl_path();
  summary.metrics_csv = metrics.csv_path();

  log << "moegrad train: " << model_kind_name(cfg.model.kind) << " on " << task_kind_name(cfg.data.task) << ", "
      << model->num_parameters() << " parameters (" << model->active_parameters() << " active per token), "
      << cfg.train.steps << " steps\n";
  log << "run folder: " << run_dir << (start > 0 ? " (resumed at step " + std::to_string(start) + ")" : "") << "\n";
  log << std::flush;

  Progress progress(cfg.train.steps, args.interactive, log);
  moe::GatingCall call;
  call.gen = &train_gen;
  call.noise_gates = cfg.model.noise_gates;
  call.noise_mult = cfg.model.noise_mult;
  const TensorList params = model->parameters();
  auto save = [&](int64_t step) {
    CheckpointState s{step, model->state_dict(), optimizer->state_dict(), train_gen.state(), data_gen.state(),
                      config_yaml, task->vocabulary()};
    save_checkpoint(summary.checkpoint_dir, s);
    prune_checkpoints(summary.checkpoint_dir, cfg.train.keep_last);
    summary.last_checkpoint = checkpoint_path(summary.checkpoint_dir, step);
  };

  double window_time = 0;
  int64_t window_tokens = 0;
  for (int64_t step = start; step < cfg.train.steps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    const double lr = cfg.optim.schedule.lr_at(step);
    optimizer->set_lr(lr);
    Batch batch = task->train_batch(cfg.train.batch_size, data_gen);
    ModelOutput out = model->forward(batch, call);
    if (std::string bad = non_finite_term(out); !bad.empty())
      throw NumericalError("step " + std::to_string(step + 1) + ": " + bad + "; stopping. The last good checkpoint is " +
                           (summary.last_checkpoint.empty() ? resume_from : summary.last_checkpoint));
    Tensor loss = out.aux_loss.defined() ? out.main_loss + out.aux_loss : out.main_loss;
    backward(loss);
    const double grad_norm = cfg.optim.clip_norm > 0 ? nn::clip_grad_norm_(params, cfg.optim.clip_norm)
                                                     : nn::clip_grad_norm_(params, 1e300);
    if (!std::isfinite(grad_norm))
      throw NumericalError("step " + std::to_string(step + 1) + ": the gradient norm is not finite; stopping. "
                           "The last good checkpoint is " +
                           (summary.last_checkpoint.empty() ? resume_from : summary.last_checkpoint));
    optimizer->step();
    optimizer->zero_grad();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    window_time += dt;
    window_tokens += batch.tokens;
    const int64_t done = step + 1;
    const double loss_value = loss.item<double>();
    summary.final_train_loss = loss_value;
    progress.step(done, loss_value, static_cast<double>(batch.tokens) / std::max(dt, 1e-9));

    if (done % cfg.train.log_interval == 0 || done == cfg.train.steps) {
      const double tok_s = static_cast<double>(window_tokens) / std::max(window_time, 1e-9);
      window_time = 0;
      window_tokens = 0;
      json rec = {{"kind", "train"},
                  {"step", done},
                  {"loss", loss_value},
                  {"main_loss", out.main_loss.item<double>()},
                  {"aux_loss", out.aux_loss.defined() ? out.aux_loss.item<double>() : 0.0},
                  {"balance_loss", scalar_sum(out.layers, true)},
                  {"router_z_loss", scalar_sum(out.layers, false)},
                  {"lr", lr},
                  {"grad_norm", grad_norm},
                  {"tokens_per_s", tok_s}};
      if (!out.layers.empty()) {
        json layers = json::array();
        double dropped = 0, entropy = 0;
        for (const auto& l : out.layers) {
          const double d = l.routing.dropped_fraction(), h = routing_entropy(l.routing);
          dropped += d / static_cast<double>(out.layers.size());
          entropy += h / static_cast<double>(out.layers.size());
          layers.push_back({{"tokens_per_expert", l.routing.tokens_per_expert().to_vector<int64_t>()},
                            {"dropped_fraction", d},
                            {"routing_entropy", h}});
        }
        rec["dropped_fraction"] = dropped;
        rec["routing_entropy"] = entropy;
        rec["layers"] = layers;
      }
      metrics.write(rec);
      if (!progress.interactive())
        progress.line("step " + std::to_string(done) + "/" + std::to_string(cfg.train.steps) + "  loss " +
                      fmt_num(loss_value) + "  main " + fmt_num(rec["main_loss"].get<double>()) + "  lr " +
                      fmt_num(lr, 6) + "  " + fmt_num(tok_s, 0) + " tok/s");
    }
    if (done % cfg.train.eval_interval == 0 || done == cfg.train.steps) {
      Evaluation ev = evaluate(*model, *task, cfg, done);
      metrics.write(ev.record);
      summary.final_eval = ev.record;
      std::string line = "eval step " + std::to_string(done) + "  loss " + fmt_num(ev.main_loss);
      if (ev.record.contains("specialisation"))
        line += "  specialisation " + fmt_num(ev.record["specialisation"].get<double>(), 3);
      if (ev.record.contains("bits_per_char"))
        line += "  bits/char " + fmt_num(ev.record["bits_per_char"].get<double>(), 3);
      progress.line(line);
    }
    if (done % cfg.train.checkpoint_interval == 0 || done == cfg.train.steps) save(done);
  }
  progress.finish();
  summary.steps = cfg.train.steps;
  if (summary.last_checkpoint.empty()) summary.last_checkpoint = resume_from;
  return summary;
}

json evaluate_checkpoint(const std::string& config_path, const std::vector<std::string>& overrides,
                         const std::string& checkpoint) {
  Config cfg = load_config(config_path, overrides);
  CheckpointState s = load_checkpoint(checkpoint);
  check_same_run(cfg, s.config_yaml, checkpoint);
  std::unique_ptr<Task> task = make_task(cfg, DType::f32);
  Generator init_gen(stream_seed(cfg.seed, kInitStream));
  std::unique_ptr<TrainModel> model = make_model(cfg, task->vocab_size(), init_gen, DType::f32);
  model->load_state_dict(s.model, /*strict=*/true);
  json rec = evaluate(*model, *task, cfg, s.step).record;
  rec["checkpoint"] = checkpoint;
  return rec;
}

}  // namespace moegrad::train
