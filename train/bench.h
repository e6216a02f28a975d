#pragma once
// `moegrad bench`: the toy MoE training step of bench/README.md, timed.
#include <nlohmann/json.hpp>
#include <string>

#include "moegrad/moe/dispatch.h"

namespace moegrad::train {

struct BenchOptions {
  int64_t batch = 8, seq = 512, dim = 256, experts = 8;  // size M
  int threads = 1;
  int64_t steps = 30;
  int64_t warmup = 3;
  moe::Dispatch dispatch = moe::Dispatch::indexed;
  uint64_t seed = 0;
  // Time one MoE layer's forward + backward only (x requires grad, loss = sum(out * c) +
  // total_aux_loss, no optimizer): the dispatch-scaling measurement of bench/README.md.
  bool layer_only = false;
  Device device;
  // Under `mpirun -np W`: each rank takes batch / W rows, and `expert_parallel` ranks share
  // one copy of the experts (train/parallel.h), as `moegrad train` runs them.
  int64_t expert_parallel = 1;
};

// Sizes of the yardstick: S, M, L.
BenchOptions bench_size(const std::string& size);

// One JSON object: step time (median, min, max), tokens/s, peak RSS, the split of the step,
// the sgemm rate measured in this process and the step's useful-FLOP bound at that rate.
// Under mpirun also the ranks, the layout and the share of the step spent in collectives
// (rank 0's), and "rank": the caller prints rank 0's.
nlohmann::json run_bench(const BenchOptions& opt);
nlohmann::json run_layer_bench(const BenchOptions& opt);

}  // namespace moegrad::train
