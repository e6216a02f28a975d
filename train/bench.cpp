#include "moegrad/train/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/core/memory_budget.h"
#include "moegrad/core/threading.h"
#include "moegrad/moe/moe.h"
#include "moegrad/moe/size_estimate.h"
#include "moegrad/train/memory_estimate.h"
#include "moegrad/train/parallel.h"
#include "moegrad/nn/linear.h"
#include "moegrad/nn/loss.h"
#include "moegrad/nn/optim/adam.h"

namespace moegrad::train {

using json = nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// GFLOP/s of a square float32 gemm through the same OpenBLAS path the step uses.
double measure_sgemm_gflops() {
  Generator gen(1);
  constexpr int64_t m = 1024;
  Tensor a = randn({m, m}, gen), b = randn({m, m}, gen);
  core::matmul(a, b);  // warm-up
  std::vector<double> rates;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    core::matmul(a, b);
    rates.push_back(2.0 * m * m * m / seconds_since(t0) / 1e9);
  }
  return median(rates);
}

double ms(double seconds) { return std::round(seconds * 1e6) / 1e3; }

json time_stats_ms(const std::vector<double>& seconds) {
  return {{"median", ms(median(seconds))},
          {"min", ms(*std::min_element(seconds.begin(), seconds.end()))},
          {"max", ms(*std::max_element(seconds.begin(), seconds.end()))}};
}

double peak_rss_mib() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// The benchmark model, as ../bench's PyTorch version builds it: one SparseMoEBlock (top-2,
// capacity factor 1.25, a feedforward after) and a Linear head.
moe::SparseMoEBlockOptions bench_block(const BenchOptions& o) {
  moe::SparseMoEBlockOptions bo;
  bo.moe.dim = o.dim;
  bo.moe.num_experts = o.experts;
  bo.moe.top_n = 2;
  bo.moe.capacity_factor_train = 1.25;
  bo.moe.dispatch = o.dispatch;
  bo.add_ff_before = false;
  bo.add_ff_after = true;
  return bo;
}

void check_sizes(const BenchOptions& o) {
  if (o.batch < 1 || o.seq < 1 || o.dim < 1 || o.experts < 2)
    throw ConfigError("size", "batch, seq and dim must be >= 1 and experts >= 2");
  if (o.steps < 1) throw ConfigError("--steps", "must be >= 1");
  // Estimated in double so that no product of the sizes can overflow: every parameter with
  // its gradient and two Adam moments, and the step's activations with their gradients.
  const moe::SparseMoEBlockOptions bo = bench_block(o);
  const double d = static_cast<double>(o.dim);
  const double params = moe::block_parameter_count(bo) + d * d + d;
  const double act = moe::block_activation_count(bo, static_cast<double>(o.batch), static_cast<double>(o.seq));
  const double bytes = (params * 4 + act * kActivationFactor) * 4 /* float32 */;
  try {
    require_memory(bytes >= 9.2e18 ? INT64_MAX : static_cast<int64_t>(bytes),
                   str_cat("bench b=", o.batch, " n=", o.seq, " d=", o.dim, " E=", o.experts));
  } catch (const OutOfMemoryError& err) {
    throw ConfigError("size", err.what());
  }
}

// The fields every bench record starts with: what was run, and how.
json describe(const char* bench, const BenchOptions& o) {
  return {{"bench", bench}, {"b", o.batch},         {"n", o.seq},
          {"d", o.dim},     {"E", o.experts},       {"threads", o.threads},
          {"dispatch", moe::dispatch_name(o.dispatch)}, {"device", o.device.str()}};
}

// Multiply-adds x 2 of the GEMM work worth doing (bench/README.md): gating, experts at the
// kept token count, the dense feedforward and the head; a step is 3x the forward.
double useful_step_gflop(const BenchOptions& o, double kept) {
  const double t = static_cast<double>(o.batch * o.seq), d = static_cast<double>(o.dim);
  const double h = static_cast<double>(bench_block(o).moe.expert().hidden());
  const double per_token_expert = 2 * d * (2 * h) + 2 * h * d;
  const double fwd = 2 * t * d * static_cast<double>(o.experts) + kept * per_token_expert + t * per_token_expert +
                     2 * t * d * d;
  return 3 * fwd / 1e9;
}

}  // namespace

BenchOptions bench_size(const std::string& size) {
  if (size == "S") return {.batch = 8, .seq = 128, .dim = 64, .experts = 4};
  if (size == "M") return {.batch = 8, .seq = 512, .dim = 256, .experts = 8};
  if (size == "L") return {.batch = 4, .seq = 2048, .dim = 512, .experts = 16};
  // For a GPU (scripts/gpu-check.sh): the XL of ../bench's torch_toy_moe.py.
  if (size == "XL") return {.batch = 8, .seq = 4096, .dim = 1024, .experts = 32};
  throw ConfigError("--size", "must be S, M, L or XL, got '" + size + "'");
}

json run_bench(const BenchOptions& o) {
  check_sizes(o);
  set_num_threads(o.threads);
  const double sgemm = measure_sgemm_gflops();

  ParallelRun par(o.expert_parallel, o.batch, "bench", "--expert-parallel", "--batch");
  Generator gen(o.seed);
  moe::SparseMoEBlock block(bench_block(o), gen);
  nn::Linear head(o.dim, o.dim, /*bias=*/true, gen);
  par.place_experts(block);
  block.to(o.device);
  head.to(o.device);
  nn::NamedTensors params = block.named_parameters();
  for (auto& [name, p] : head.named_parameters()) params.emplace_back("head." + name, p);
  nn::AdamW optimizer(params, nn::AdamOptions{.lr = 1e-3, .weight_decay = 1e-2});
  // The whole batch on every rank, each keeping its rows (all of them in one process).
  Batch whole;
  whole.inputs = randn({o.batch, o.seq, o.dim}, gen, DType::f32, backend_for(o.device));
  whole.targets = randn({o.batch, o.seq, o.dim}, gen, DType::f32, backend_for(o.device));
  const Batch own = par.own_part(whole);
  const Tensor x = own.inputs, target = own.targets;
  moe::GatingCall whole_call;
  whole_call.gen = &gen;
  const moe::GatingCall call = par.split_call(whole_call, whole);

  struct Split {
    moe::PhaseTimes forward;
    double forward_total = 0, backward = 0, optimizer = 0;
  };
  // Summed on the device and read once at the end, so the bench adds no read to a step.
  Tensor kept_sum = zeros({}, DType::i64, x.backend());
  int64_t kept_count = 0;
  auto step = [&](Split* split) {
    optimizer.zero_grad();
    auto t0 = std::chrono::steady_clock::now();
    moe::MoEOutput out = block.forward(x, call, split ? &split->forward : nullptr);
    Tensor loss = nn::mse_loss(head.forward(out.outputs), target) + out.total_aux_loss;
    auto t1 = std::chrono::steady_clock::now();
    backward(loss);
    par.reduce_gradients(params);
    auto t2 = std::chrono::steady_clock::now();
    optimizer.step();
    if (split) {
      split->forward_total += std::chrono::duration<double>(t1 - t0).count();
      split->backward += std::chrono::duration<double>(t2 - t1).count();
      split->optimizer += seconds_since(t2);
    }
    kept_sum = core::binary(BinaryOp::add, kept_sum, core::sum(core::to(out.routing.kept, DType::i64)));
    ++kept_count;
  };
  for (int64_t i = 0; i < o.warmup; ++i) step(nullptr);
  std::vector<double> times;
  const uint64_t reads_before = host_reads();
  const double comm_before = par.communication_seconds();
  for (int64_t i = 0; i < o.steps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    step(nullptr);
    times.push_back(seconds_since(t0));
  }
  double step_total = 0;
  for (double t : times) step_total += t;
  const double comm_share = (par.communication_seconds() - comm_before) / step_total;
  const double reads_per_step = static_cast<double>(host_reads() - reads_before) / static_cast<double>(o.steps);
  // The split comes from extra steps, so the timers never touch the timed ones.
  Split split;
  const int64_t split_steps = std::max<int64_t>(1, std::min<int64_t>(o.steps, 10));
  for (int64_t i = 0; i < split_steps; ++i) step(&split);
  const double med = median(times);
  const double kept = static_cast<double>(kept_sum.item<int64_t>()) / static_cast<double>(kept_count);
  const double useful = useful_step_gflop(o, kept);
  const double n = static_cast<double>(split_steps);
  const double fwd_parts = split.forward.gating + split.forward.dispatch + split.forward.experts +
                           split.forward.combine + split.forward.dense_ff;
  json split_ms = {{"gating", ms(split.forward.gating / n)},
                   {"dispatch", ms(split.forward.dispatch / n)},
                   {"experts", ms(split.forward.experts / n)},
                   {"combine", ms(split.forward.combine / n)},
                   {"dense_ff", ms(split.forward.dense_ff / n)},
                   {"forward_other", ms((split.forward_total - fwd_parts) / n)},
                   {"backward", ms(split.backward / n)},
                   {"optimizer", ms(split.optimizer / n)}};
  json result = describe("moegrad_toy_moe_step", o);
  result.update({{"steps", o.steps},
          {"step_ms", time_stats_ms(times)},
          {"tokens_per_s", static_cast<double>(o.batch * o.seq) / med},
          {"peak_rss_mib", peak_rss_mib()},
          {"split_ms", split_ms},
          {"kept_tokens", kept},
          {"host_reads_per_step", reads_per_step},
          {"sgemm_gflops", sgemm},
          {"useful_step_gflop", useful},
          {"bound_ms", ms(useful / sgemm)},
          {"fraction_of_bound", (useful / sgemm) / med}});
  if (par.distributed()) {
    // useful_step_gflop is the whole batch's, over this one rank's sgemm rate.
    result.update({{"ranks", par.size()}, {"expert_parallel", o.expert_parallel}, {"communication_share", comm_share}});
  }
  result["rank"] = par.rank();
  return result;
}

json run_layer_bench(const BenchOptions& o) {
  check_sizes(o);
  set_num_threads(o.threads);
  Generator gen(o.seed);
  moe::MoEOptions mo;
  mo.dim = o.dim;
  mo.num_experts = o.experts;
  mo.top_n = 2;
  mo.capacity_factor_train = 1.25;
  mo.dispatch = o.dispatch;
  moe::MoE layer(mo, gen);
  layer.to(o.device);
  Tensor x = requires_grad_(randn({o.batch, o.seq, o.dim}, gen, DType::f32, backend_for(o.device)));
  Tensor c = randn({o.batch, o.seq, o.dim}, gen, DType::f32, backend_for(o.device));
  moe::GatingCall call;
  call.gen = &gen;
  auto run = [&] {
    layer.zero_grad();
    zero_grad(x);
    moe::MoEOutput out = layer.forward(x, call);
    backward(sum(out.outputs * c) + out.total_aux_loss);
  };
  for (int64_t i = 0; i < o.warmup; ++i) run();
  std::vector<double> times;
  for (int64_t i = 0; i < o.steps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    run();
    times.push_back(seconds_since(t0));
  }
  json result = describe("moegrad_moe_layer_fwd_bwd", o);
  result.update({{"ms", time_stats_ms(times)}, {"peak_rss_mib", peak_rss_mib()}});
  return result;
}

}  // namespace moegrad::train
