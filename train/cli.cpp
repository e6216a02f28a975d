// The moegrad command line as a library function (train/cli.h). Library code throws; only
// this file turns errors into exit codes and messages: 0 done, 1 failed, 2 bad
// configuration or arguments (nothing written), 3 stopped on a NaN or Inf (the last good
// checkpoint kept), 130 / 143 stopped by SIGINT / SIGTERM (a checkpoint saved).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <system_error>

#include "moegrad/core/error.h"
#include "moegrad/core/file_read.h"
#include "moegrad/core/memory_budget.h"
#include "moegrad/core/threading.h"
#include "moegrad/dist/make_communicator.h"
#include "moegrad/nn/safetensors.h"
#include "moegrad/train/bench.h"
#include "moegrad/train/checkpoint.h"
#include "moegrad/train/cli.h"

#include "moegrad/train/cli_args.h"
#include "moegrad/train/config.h"
#include "moegrad/train/config_docs.h"
#include "moegrad/train/interrupt.h"
#include "moegrad/train/mlp_demo.h"
#include "moegrad/train/parity.h"
#include "moegrad/train/preflight.h"
#include "moegrad/train/sampling.h"
#include "moegrad/train/trainer.h"

namespace {

using namespace moegrad;

// eval's and sample's --checkpoint and --weights: exactly one of the two.
void add_weights_options(CLI::App* cmd, std::string& checkpoint, std::string& weights) {
  CLI::Option* ckpt = cmd->add_option("--checkpoint", checkpoint, "checkpoint .safetensors");
  CLI::Option* plain =
      cmd->add_option("--weights", weights, "plain state dict .safetensors (moegrad export, or PyTorch's save_file)");
  ckpt->excludes(plain);
}
bool one_weights_source(const std::string& program, const std::string& command, const std::string& checkpoint,
                        const std::string& weights, const std::string& checkpoint_name = "--checkpoint") {
  if (checkpoint.empty() != weights.empty()) return true;
  std::cerr << program << " " << command << ": give one of " << checkpoint_name << " or --weights\n";
  return false;
}

int run_demo(const train::MlpDemoOptions& demo, bool check) {
  auto r = train::run_mlp_demo(demo, std::cout);
  std::cout << fmt::format("loss {:.6f} -> {:.6f}\n", r.first_loss, r.final_loss);
  if (check && !(r.final_loss < 0.5 * r.first_loss)) {
    std::cerr << "demo: loss did not halve\n";
    return 1;
  }
  return 0;
}

int run_parity(const std::vector<std::string>& files, const std::string& dtype, const std::string& dispatch,
               const Device& device) {
  train::ParityOptions opt;
  opt.device = device;
  opt.dtype = dtype == "float32" ? DType::f32 : DType::f64;
  opt.dispatch = moe::parse_dispatch(dispatch);
  int failed = 0;
  for (const std::string& f : files) {
    train::ParityResult r = train::run_parity_fixture(f, opt);
    std::cout << train::format_parity_line(r, opt) << std::endl;
    failed += !r.ok;
  }
  std::cout << fmt::format("{} of {} fixtures passed ({}, {} dispatch)\n", files.size() - failed, files.size(),
                           dtype, dispatch);
  return failed ? 1 : 0;
}

int run_train(const train::TrainArgs& args) {
  // A closed stdout (moegrad train ... | head) is an EPIPE the trainer notices, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  train::TrainSummary s = train::run_training(args, std::cout);
  if (s.nothing_to_do || !s.leader) return 0;
  // The train loss includes the aux losses, eval's is the main loss alone: both are labelled.
  std::cout << "done: " << s.steps << " steps, final train loss " << s.final_train_loss << " (main "
            << s.final_train_main_loss << ")";
  if (s.final_eval.contains("loss")) std::cout << ", eval main loss " << s.final_eval["loss"].get<double>();
  if (s.final_eval.contains("specialisation"))
    std::cout << ", specialisation " << s.final_eval["specialisation"].get<double>();
  if (s.final_eval.contains("bits_per_char")) std::cout << ", bits/char " << s.final_eval["bits_per_char"].get<double>();
  std::cout << "\n  config:      " << s.config_file << "\n  metrics:     " << s.metrics_jsonl << ", " << s.metrics_csv
            << "\n  checkpoints: " << s.checkpoint_dir << " (last: " << s.last_checkpoint << ")\n";
  return 0;
}

}  // namespace

namespace moegrad::train {

namespace {
int run_commands(int argc, char** argv, const std::string& program);
}

int run_cli(int argc, char** argv, const std::string& program) {
  const int code = run_commands(argc, argv, program);
  // A numerical stop (3) and an interrupt (128 + signal) are decided by every rank of a
  // job together, and each leaves on its own; any other failure may be this rank's alone.
  if (code != 3 && code < 128) dist::end_job_if_failed(code);
  return code;
}

namespace {
int run_commands(int argc, char** argv, const std::string& program) {
  CLI::App app{program + ": train Mixture-of-Experts models"};
  app.name(program);
  app.require_subcommand(1);

  // Numbers are bound as text and parsed by train/cli_args.h once CLI11 is done.
  train::MlpDemoOptions demo;
  std::string demo_steps, demo_seed, demo_lr;
  bool check = false;
  CLI::App* demo_cmd = app.add_subcommand("demo", "train a 2-layer MLP with SGD (smoke test)");
  demo_cmd->add_option("--steps", demo_steps, "SGD steps");
  demo_cmd->add_option("--seed", demo_seed, "generator seed");
  demo_cmd->add_option("--lr", demo_lr, "learning rate");
  demo_cmd->add_flag("--check", check, "exit 1 unless the loss at least halves");

  std::vector<std::string> parity_files;
  std::string parity_dtype = "float64", parity_dispatch = "indexed";
  CLI::App* parity_cmd =
      app.add_subcommand("parity", "check moe-parity/1 fixtures: outputs and gradients against the reference");
  // --device on every command that runs a model: cpu, cuda or cuda:N.
  std::string train_device, eval_device, sample_device, bench_device, parity_device;
  const char* device_help = "cpu, cuda or cuda:N (train, eval: overrides the config's device)";
  parity_cmd->add_option("files", parity_files, "fixture files (.safetensors)")->required();
  parity_cmd->add_option("--device", parity_device, device_help);
  parity_cmd->add_option("--dtype", parity_dtype, "compute in float64 (default) or float32")
      ->check(CLI::IsMember({"float64", "float32"}));
  parity_cmd->add_option("--dispatch", parity_dispatch, "dispatch path: indexed (default) or dense")
      ->check(CLI::IsMember({"indexed", "dense"}));

  train::TrainArgs targs;
  CLI::App* train_cmd = app.add_subcommand("train", "train a model from a YAML config (schema: configs/README.md)");
  train_cmd->add_option("config", targs.config_path, "YAML config (with --resume of a run: its own by default)");
  train_cmd->add_option("--set", targs.overrides, "override a key: --set optim.lr=0.01 (repeatable)");
  train_cmd->add_option("--out", targs.out_dir, "output folder (default runs/<config>-<time>); must be new");
  train_cmd->add_option("--resume", targs.resume, "continue a run: its folder or one of its checkpoints");
  // Not part of the config: results are bit-reproducible at one thread count, and a run may
  // be resumed on another machine; OpenBLAS's sums differ in the last bits between counts.
  std::string train_threads = "1";
  train_cmd->add_option("--threads", train_threads, "threads for kernels and OpenBLAS (default 1)");
  train_cmd->add_option("--device", train_device, device_help);
  std::vector<std::string> dump_grads;
  train_cmd->add_option("--dump-grads", dump_grads,
                        "STEPS DIR: at steps like 1,10,100 write each MoE layer's gate logits, gates, dispatch "
                        "weights, expert inputs and outputs and their gradients to DIR/step_<N>.safetensors")
      ->expected(2);
  const char* force_help =
      "run a config whose memory estimate exceeds the memory available, with a warning on stderr (the estimate errs "
      "high)";
  train_cmd->add_flag("--force", targs.force, force_help);

  std::string eval_config, eval_checkpoint, eval_weights, eval_dump;
  std::vector<std::string> eval_overrides;
  CLI::App* eval_cmd =
      app.add_subcommand("eval", "evaluate a checkpoint or a state dict on the held-out data (prints JSON)");
  eval_cmd->add_option("config", eval_config, "YAML config of the model (default: the file's own)");
  add_weights_options(eval_cmd, eval_checkpoint, eval_weights);
  eval_cmd->add_option("--set", eval_overrides, "override a key (as for train)");
  eval_cmd->add_option("--dump", eval_dump,
                       "also write the first eval batch, its routing uniforms and the model's prediction to this "
                       ".safetensors (for tools/torch_reference.py)");
  std::string eval_threads = "1";
  eval_cmd->add_option("--threads", eval_threads, "threads for kernels and OpenBLAS (default 1)");
  eval_cmd->add_option("--device", eval_device, device_help);

  std::string docs_check, docs_update;
  CLI::App* docs_cmd = app.add_subcommand("config-docs", "print the config key tables of configs/README.md");
  docs_cmd->add_option("--check", docs_check, "exit 1 when FILE's tables differ from the schema's");
  docs_cmd->add_option("--update", docs_update, "rewrite FILE's tables from the schema");
  std::string check_path;
  std::vector<std::string> check_overrides;
  bool check_force = false;
  CLI::App* check_cmd = app.add_subcommand(
      "check-config",
      "validate a config and print it fully resolved, then its pre-flight (parameters, memory, expert capacity) as "
      "YAML comments");
  check_cmd->add_option("config", check_path, "YAML config")->required();
  check_cmd->add_option("--set", check_overrides, "override a key (as for train)");
  check_cmd->add_flag("--force", check_force, force_help);

  train::InspectArgs iargs;
  bool inspect_json = false;
  std::string inspect_batches, inspect_threads = "1";
  CLI::App* inspect_cmd = app.add_subcommand(
      "inspect", "run a checkpoint or state dict on held-out batches and print each MoE layer's routing");
  CLI::Option* inspect_ckpt = inspect_cmd->add_option("checkpoint", iargs.checkpoint, "checkpoint .safetensors");
  inspect_cmd
      ->add_option("--weights", iargs.weights, "plain state dict .safetensors (moegrad export, or PyTorch's save_file)")
      ->excludes(inspect_ckpt);
  inspect_cmd->add_option("--config", iargs.config_path, "YAML config of the model (default: the file's own)");
  inspect_cmd->add_option("--set", iargs.overrides, "override a key (as for train)");
  inspect_cmd->add_option("--batches", inspect_batches, "held-out batches (default train.eval_batches)");
  inspect_cmd->add_flag("--train-routing", iargs.train_routing,
                        "route as in training: capacity_factor_train and threshold_train (no gradients)");
  inspect_cmd->add_flag("--json", inspect_json, "print one JSON object instead of tables");
  inspect_cmd->add_flag("--force", iargs.force, force_help);
  inspect_cmd->add_option("--threads", inspect_threads, "threads for kernels and OpenBLAS (default 1)");
  std::string inspect_device;
  inspect_cmd->add_option("--device", inspect_device, device_help);

  train::SampleOptions sopt;
  CLI::App* sample_cmd = app.add_subcommand("sample", "print text generated by a char_lm checkpoint or state dict");
  sample_cmd->add_option("config", sopt.config, "YAML config of the model (default: the file's own)");
  add_weights_options(sample_cmd, sopt.checkpoint, sopt.weights);
  sample_cmd->add_option("--prompt", sopt.prompt, "text to continue");
  std::string sample_length, sample_temperature, sample_seed;
  sample_cmd->add_option("--length", sample_length, "characters to generate (default 200)");
  sample_cmd->add_option("--temperature", sample_temperature, "softmax temperature (default 1)");
  sample_cmd->add_option("--seed", sample_seed, "sampling seed (default 0)");
  sample_cmd->add_option("--device", sample_device, device_help);

  std::string export_checkpoint, export_out;
  CLI::App* export_cmd = app.add_subcommand(
      "export", "write a checkpoint's model as a plain state dict (no prefix, optimizer or rng), as PyTorch keeps one");
  export_cmd->add_option("checkpoint", export_checkpoint, "checkpoint .safetensors")->required();
  export_cmd->add_option("--out", export_out, "the .safetensors file to write")->required();
  std::string bench_size = "M", bench_dispatch = "indexed";
  std::string bench_b, bench_n, bench_d, bench_e, bench_threads, bench_steps, bench_warmup;
  train::BenchOptions bopt;
  CLI::App* bench_cmd = app.add_subcommand("bench", "time the toy MoE training step (bench/README.md), print JSON");
  bench_cmd->add_option("--size", bench_size, "S, M, L or XL (XL: for a GPU)")
      ->check(CLI::IsMember({"S", "M", "L", "XL"}));
  bench_cmd->add_option("--batch", bench_b, "batch b (overrides --size)");
  bench_cmd->add_option("--seq", bench_n, "tokens per sequence n");
  bench_cmd->add_option("--dim", bench_d, "model width d");
  bench_cmd->add_option("--experts", bench_e, "number of experts E");
  bench_cmd->add_option("--threads", bench_threads, "threads for kernels and OpenBLAS (default 1)");
  bench_cmd->add_option("--steps", bench_steps, "timed steps (default 30)");
  bench_cmd->add_option("--warmup", bench_warmup, "untimed steps first (default 3)");
  bench_cmd->add_option("--dispatch", bench_dispatch, "indexed (default) or dense")
      ->check(CLI::IsMember({"indexed", "dense"}));
  bench_cmd->add_flag("--layer", bopt.layer_only, "time one MoE layer's forward + backward only (scaling sweep)");
  bench_cmd->add_option("--device", bench_device, device_help);
  std::string bench_expert_parallel;
  bench_cmd->add_option("--expert-parallel", bench_expert_parallel,
                        "under mpirun: ranks sharing one copy of the experts (default 1; docs/distributed.md)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  // An option given as "" or not at all keeps its default.
  auto int_or = [](const char* option, const std::string& text, int64_t fallback, int64_t lo, int64_t hi) {
    return text.empty() ? fallback : train::int_arg(option, text, lo, hi);
  };
  constexpr int64_t kMaxSteps = int64_t{1} << 40, kMaxWidth = int64_t{1} << 24;
  const char* command = "moegrad";
  try {
    for (CLI::App* sub : app.get_subcommands()) command = sub->get_name().c_str();
    if (*demo_cmd) {
      demo.steps = int_or("--steps", demo_steps, demo.steps, 1, kMaxSteps);
      if (!demo_seed.empty()) demo.seed = train::seed_arg("--seed", demo_seed);
      if (!demo_lr.empty()) demo.lr = train::positive_arg("--lr", demo_lr, 1e6);
      return run_demo(demo, check);
    }
    // Checked before anything runs, so a missing GPU is exit 2 naming --device.
    auto device_or_cpu = [](const std::string& text) {
      return text.empty() ? Device::cpu() : train::device_arg("--device", text);
    };
    if (*parity_cmd) return run_parity(parity_files, parity_dtype, parity_dispatch, device_or_cpu(parity_device));
    if (*train_cmd) {
      set_num_threads(static_cast<int>(train::int_arg("--threads", train_threads, 1, train::kMaxThreads)));
      targs.interactive = ::isatty(STDOUT_FILENO) == 1;
      if (!dump_grads.empty()) targs.dump_grads = {train::parse_dump_steps(dump_grads[0]), dump_grads[1]};
      if (!train_device.empty()) targs.overrides.push_back("device=" + device_or_cpu(train_device).str());
      return run_train(targs);
    }
    if (*eval_cmd) {
      set_num_threads(static_cast<int>(train::int_arg("--threads", eval_threads, 1, train::kMaxThreads)));
      if (!one_weights_source(program, "eval", eval_checkpoint, eval_weights)) return 2;
      if (!eval_device.empty()) eval_overrides.push_back("device=" + device_or_cpu(eval_device).str());
      std::cout << (eval_weights.empty()
                        ? train::evaluate_checkpoint(eval_config, eval_overrides, eval_checkpoint, eval_dump)
                        : train::evaluate_weights_file(eval_config, eval_overrides, eval_weights, eval_dump))
                       .dump()
                << "\n";
      return 0;
    }
    if (*docs_cmd) {
      if (docs_check.empty() && docs_update.empty()) {
        std::cout << train::config_docs_markdown();
        return 0;
      }
      const std::string& file = docs_check.empty() ? docs_update : docs_check;
      const std::string text = nn::read_file(file, kMaxConfigFileBytes);
      const std::string fresh = train::with_config_docs(text, file);
      if (!docs_update.empty()) {
        nn::write_file_atomic(file, fresh);
        return 0;
      }
      if (fresh == text) return 0;
      std::cerr << program << " config-docs: " << file
                << "'s config tables differ from the schema's; regenerate them with `" << program
                << " config-docs --update " << file << "`\n";
      return 1;
    }
    if (*export_cmd) {
      const size_t n = train::export_weights(export_checkpoint, export_out);
      std::cout << "wrote " << export_out << ": " << n << " tensors (the model's state dict)\n";
      return 0;
    }
    if (*check_cmd) {
      const train::Config c = train::load_config(check_path, check_overrides, {.force = check_force});
      std::cout << train::to_yaml(c) << train::preflight_comments(c);
      return 0;
    }
    if (*inspect_cmd) {
      set_num_threads(static_cast<int>(train::int_arg("--threads", inspect_threads, 1, train::kMaxThreads)));
      if (!one_weights_source(program, "inspect", iargs.checkpoint, iargs.weights, "a CHECKPOINT")) return 2;
      iargs.batches = int_or("--batches", inspect_batches, 0, 1, 1 << 20);
      if (!inspect_device.empty()) iargs.overrides.push_back("device=" + device_or_cpu(inspect_device).str());
      const train::RoutingReport report = train::inspect_routing(iargs);
      std::cout << (inspect_json ? train::to_json(report).dump() + "\n" : train::format_text(report));
      return 0;
    }
    if (*bench_cmd) {
      train::BenchOptions o = train::bench_size(bench_size);
      o.threads = static_cast<int>(int_or("--threads", bench_threads, bopt.threads, 1, train::kMaxThreads));
      o.steps = int_or("--steps", bench_steps, bopt.steps, 1, 1 << 20);
      o.warmup = int_or("--warmup", bench_warmup, bopt.warmup, 0, 1 << 20);
      o.dispatch = moe::parse_dispatch(bench_dispatch);
      o.batch = int_or("--batch", bench_b, o.batch, 1, kMaxWidth);
      o.seq = int_or("--seq", bench_n, o.seq, 1, kMaxWidth);
      o.dim = int_or("--dim", bench_d, o.dim, 1, kMaxWidth);
      o.experts = int_or("--experts", bench_e, o.experts, 2, 1 << 16);
      o.layer_only = bopt.layer_only;
      o.device = device_or_cpu(bench_device);
      o.expert_parallel = int_or("--expert-parallel", bench_expert_parallel, 1, 1, 1 << 16);
      nlohmann::json result = o.layer_only ? train::run_layer_bench(o) : train::run_bench(o);
      const bool leader = result.value("rank", 0) == 0;
      result.erase("rank");
      if (leader) std::cout << result.dump() << std::endl;
      return 0;
    }
    if (*sample_cmd) {
      sopt.length = int_or("--length", sample_length, sopt.length, 0, 1 << 20);
      if (!sample_temperature.empty()) sopt.temperature = train::positive_arg("--temperature", sample_temperature, 1e6);
      if (!sample_seed.empty()) sopt.seed = train::seed_arg("--seed", sample_seed);
      sopt.device = device_or_cpu(sample_device);
      if (!one_weights_source(program, "sample", sopt.checkpoint, sopt.weights)) return 2;
      std::cout << train::sample_text(sopt) << "\n";
      return 0;
    }
  } catch (const ConfigError& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  } catch (const train::ConfigFileError& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  } catch (const train::NumericalError& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 3;
  } catch (const train::Interrupted& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return e.exit_code();
  } catch (const Error& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    // Allocations are pre-checked and name what they allocate; this is one that was not.
    std::cerr << program << " " << command << ": out of memory (" << format_bytes(available_memory_bytes())
              << " available); try smaller sizes\n";
    return 1;
  } catch (const std::system_error& e) {
    std::cerr << program << " " << command << ": the system refused a request (" << e.code().message()
              << "); check the machine's limits (threads, open files, disk)\n";
    return 1;
  } catch (const std::exception& e) {
    // Library text is not a message for users; it goes in a bug report.
    std::cerr << program << " " << command << ": unexpected internal error (please report it with the command line): "
              << e.what() << "\n";
    return 1;
  }
  return 0;
}
}  // namespace

}  // namespace moegrad::train
